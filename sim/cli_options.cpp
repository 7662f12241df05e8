#include "sim/cli_options.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "ref/error.h"
#include "ref/file_io.h"

namespace mls::cli {

void add_quant_options(po::options_description& desc, ConfigFlags& f) {
  desc.add_options()
      ("elem", po::value(&f.elem)->default_value(f.elem), "element format <E_x, M_x>, e.g. e2m4")
      ("scale", po::value(&f.scale)->default_value(f.scale), "group-scale format <E_g, M_g>, M_g in {0,1}")
      ("group", po::value(&f.group)->default_value(f.group), "grouping: nc | n | c | tensor")
      ("rounding", po::value(&f.rounding)->default_value(f.rounding), "nearest | stochastic")
      ("seed", po::value<std::string>()->default_value(std::to_string(f.seed))->notifier([&f](const std::string& t) {
         f.seed = parse_seed(t);
       }),
       "seed of the stochastic-rounding draws, [0, 2^64 - 1]")
      ("clip", po::bool_switch(&f.clip), "clip the mantissa inside its binade (the paper's Alg. 1)");
}

void add_array_options(po::options_description& desc, ConfigFlags& f) {
  desc.add_options()
      ("rows", po::value(&f.rows)->default_value(f.rows), "array rows R (chunks reduced per tree)")
      ("cols", po::value(&f.cols)->default_value(f.cols), "array columns C (outputs side by side)")
      ("acc-bits", po::value(&f.acc_bits)->default_value(f.acc_bits), "local accumulator width, [8, 62]")
      ("acc-overflow", po::value(&f.acc_overflow)->default_value(f.acc_overflow), "saturate | wrap")
      ("chunk", po::value(&f.chunk)->default_value(f.chunk), "products per local accumulation")
      ("tree-stages", po::value(&f.tree_stages)->default_value(f.tree_stages),
       "adder-tree pipeline stages (0: one per level)")
      ("inject-fault", po::value(&f.fault)->default_value(f.fault),
       "test only: break a block (mul-lsb | scaler-mantissa | tree-order) to prove --check");
}

MlsConfig to_config(const ConfigFlags& f) {
  MlsConfig c;
  c.quant.elem = parse_elem_format(f.elem);
  c.quant.scale = parse_scale_format(f.scale);
  c.quant.group = parse_grouping(f.group);
  c.quant.rounding = parse_rounding(f.rounding);
  c.quant.seed = f.seed;
  c.quant.clip = f.clip;
  c.array.rows = f.rows;
  c.array.cols = f.cols;
  c.array.acc_bits = f.acc_bits;
  c.array.acc_overflow = parse_overflow(f.acc_overflow);
  c.array.chunk = f.chunk;
  c.array.tree_stages = f.tree_stages;
  c.array.fault = parse_fault(f.fault);
  c.validate();
  return c;
}

uint64_t parse_seed(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE)
    throw Error("--seed must be an integer in [0, 2^64 - 1], got " + quoted_excerpt(text));
  return v;
}

void check_threads(int threads) {
  if (threads < 1 || threads > 256) throw Error("--threads must be in [1, 256], got " + std::to_string(threads));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

namespace {

// "missing TRACE_DIR" for a positional argument, boost's message otherwise.
std::string missing_message(const po::required_option& e, const po::options_description& desc,
                            const po::positional_options_description& positional) {
  std::string name = e.get_option_name();
  name.erase(0, name.find_first_not_of('-'));
  for (unsigned i = 0; i < positional.max_total_count() && i < 8; ++i)
    if (positional.name_for_position(i) == name)
      return "missing " + desc.find(name, false).semantic()->name() + " (see --help)";
  return std::string(e.what()) + " (see --help)";
}

}  // namespace

bool parse(const std::vector<std::string>& args, const std::string& usage, po::options_description& desc,
           const po::positional_options_description& positional, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::required_option& e) {
    throw Error(missing_message(e, desc, positional));
  } catch (const po::error& e) {
    throw Error(std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace mls::cli
