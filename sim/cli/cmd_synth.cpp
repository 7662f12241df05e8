// mlssim synth: a trace of synthetic tensors for a network given by its shapes
// (docs/scale.md#synthetic-traces).
#include <cstdio>
#include <filesystem>

#include "ref/core/activity.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/synth/synth.h"

namespace mls {

namespace {

uint64_t parse_seed(const std::string& text) {
  uint64_t v = 0;
  bool ok = !text.empty() && text.size() <= 20;
  for (char c : text) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - uint64_t(c - '0')) / 10) {
      ok = false;
      break;
    }
    v = v * 10 + uint64_t(c - '0');
  }
  if (!ok) throw Error("--seed must be a decimal integer in [0, 2^64 - 1], got '" + text + "'");
  return v;
}

}  // namespace

int cmd_synth(const std::vector<std::string>& args) {
  std::string topology, out, seed = "0";
  int64_t batch = 1;
  cli::po::options_description desc("synth options");
  desc.add_options()
      ("topology", cli::po::value(&topology)->value_name("TOPOLOGY")->required(),
       "a SCALE-Sim convolution topology (.csv) or a JSON layer list (docs/scale.md#topologies)")
      ("out", cli::po::value(&out)->value_name("TRACE_DIR")->required(), "the trace directory to create")
      ("batch", cli::po::value(&batch)->default_value(1)->value_name("N"), "images (or sequences) per batch, [1, 65536]")
      ("seed", cli::po::value(&seed)->default_value("0")->value_name("S"), "seed of every draw, [0, 2^64 - 1]");
  cli::po::positional_options_description pos;
  pos.add("topology", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim synth TOPOLOGY --out TRACE_DIR [--batch N] [--seed S]", desc, pos, vm))
    return 0;
  if (batch < 1 || batch > 65536) throw Error("--batch must be in [1, 65536], got " + std::to_string(batch));
  synth::SynthOptions opt;
  opt.batch = batch;
  opt.seed = parse_seed(seed);
  opt.source = "mlssim synth " + std::filesystem::path(topology).filename().string() + " --batch " +
               std::to_string(batch) + " --seed " + seed;
  const Doing reading("reading the topology " + topology);
  const synth::Topology topo = synth::read_topology(topology);
  const Doing writing("drawing and writing the tensors of " + topology + " to " + out);
  const synth::SynthSummary s = synth::write_trace(topo, out, opt);
  std::printf("synth: %zu layers, %zu tensors, %.1f MB (float32) -> %s\n", s.layers, s.tensors, double(s.bytes) / 1e6,
              out.c_str());
  return 0;
}

}  // namespace mls
