#pragma once
// Command-line options shared by the subcommands: every flag that fills the
// one MlsConfig is declared here once, with the docs/reference.md#the-reference-quantizer defaults.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "ref/config.h"

namespace mls::cli {

namespace po = boost::program_options;

// Raw flag values, as typed; to_config() validates them.
struct ConfigFlags {
  std::string elem = "e2m4", scale = "e8m1", group = "nc", rounding = "stochastic";
  uint64_t seed = 0;
  bool clip = false;
  int rows = 16, cols = 16, acc_bits = 16, chunk = 16, tree_stages = 0;
  std::string acc_overflow = "saturate", fault = "none";
};

void add_quant_options(po::options_description& desc, ConfigFlags& flags);
void add_array_options(po::options_description& desc, ConfigFlags& flags);
MlsConfig to_config(const ConfigFlags& flags);  // throws mls::Error

// A seed: decimal digits only, so "-1" is refused rather than wrapped to 2^64 - 1.
uint64_t parse_seed(const std::string& text);
// Worker threads: [1, 256].
void check_threads(int threads);

// "fwd,bwd-data" -> {"fwd", "bwd-data"}; empty items are dropped.
std::vector<std::string> split_list(const std::string& text);

// Parses args (subcommand arguments, program name excluded). Returns false when
// --help was asked for (usage already printed). Throws mls::Error on bad flags.
bool parse(const std::vector<std::string>& args, const std::string& usage, po::options_description& desc,
           const po::positional_options_description& positional, po::variables_map& vm);

}  // namespace mls::cli
