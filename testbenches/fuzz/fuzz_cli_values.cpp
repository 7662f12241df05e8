// libFuzzer harness: the command line's value parsers (docs/fuzzing.md). The
// first input byte chooses what the rest is:
//   'p'  a parameter value: the next byte picks a parameter of the table
//        (sim/params/params.h: --rows, --acc-bits, --elem and the per-operand
//        formats, --group, --rounding, --seed, --tech, ...), the rest is the
//        text its flag takes; params::set, then the cross-parameter checks;
//   'l'  a list: split_list and parse_pass on each item (--passes), then
//        mark_unquantized (--unquantized: names, fnmatch globs, first, last,
//        classifier, none) over a fixed list of layer names;
//   'r'  a `run` command line, one argument per line, on a trace directory that
//        does not exist: every flag is parsed and checked (--shard I/N, -j,
//        --threads, --preset, the formats, ...) before the trace fails to load;
//   's'  a `synth` command line, likewise (--batch, --seed, --out) on a missing topology;
//   anything else: the text is parsed as every parameter in turn.
#include <cstdint>
#include <map>

#include "fuzz_support.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/params/params.h"
#include "sim/run/layer_config.h"

namespace {

const std::vector<std::string> kLayers = {"conv1", "layer1.0.conv1", "layer1.0.conv2", "attn.qkv", "fc"};

void parse_param(const mls::params::Param& p, const std::string& text) {
  mls::RunConfig cfg;
  mls::params::set(cfg, p, text);
  mls::params::validate(cfg);
}

void parse_list(const std::string& text) {
  for (const std::string& item : mls::cli::split_list(text)) {
    try {
      mls::parse_pass(item);
    } catch (const mls::Error&) {
      // not a pass: the list is still tried as --unquantized below
    }
  }
  std::map<std::string, mls::LayerSettings> settings;
  mls::mark_unquantized(text, kLayers, "fc", mls::RunConfig{},
                        {mls::Pass::fwd, mls::Pass::bwd_data, mls::Pass::bwd_weight}, settings);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size() && out.size() < 64) {
    const size_t end = std::min(text.find('\n', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void run_command(char mode, const std::string& text) {
  const std::string& dir = mls::fuzz::scratch_dir();
  std::vector<std::string> args = lines(text);
  if (mode == 'r') {
    args.insert(args.begin(), dir + "/no-such-trace");
    mls::cmd_run(args);
  } else {
    args.insert(args.begin(), dir + "/no-such-topology.json");
    mls::cmd_synth(args);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char mode = char(data[0]);
  const std::vector<mls::params::Param>& table = mls::params::table();
  try {
    if (mode == 'p' && size >= 2) {
      parse_param(table[data[1] % table.size()], std::string(reinterpret_cast<const char*>(data) + 2, size - 2));
    } else if (mode == 'l') {
      parse_list(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    } else if (mode == 'r' || mode == 's') {
      run_command(mode, std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    } else {
      const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
      for (const mls::params::Param& p : table) {
        try {
          parse_param(p, text);
        } catch (const mls::Error& e) {
          mls::fuzz::expected(e);
        }
      }
    }
    mls::fuzz::loaded("parsed");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
