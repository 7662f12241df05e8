#pragma once
// What every bench binary shares: its entry points (SystemC's sc_main around
// the bench's run_bench, errors as one line naming the binary) and the CPU
// clock its figures are counted in (bench/README.md).
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/core/operand.h"
#include "sim/cli/cli_options.h"

namespace mls::bench {

// The flags every bench takes: the trace, its passes, the repetitions (the
// best is kept) and run's quantizer, operand and array flags.
struct BenchArgs {
  MlsConfig cfg;
  std::string trace_dir = std::string(MLSSIM_SOURCE_DIR) + "/traces/resnet20-digits", passes = "fwd";
  int repeat = 3;
};

// Adds BenchArgs's flags to `desc` (which may hold the bench's own) and
// parses `args` into both; false when --help was asked for.
bool parse_bench_args(const std::vector<std::string>& args, cli::po::options_description& desc, BenchArgs& a);
// a.passes as passes.
std::vector<Pass> bench_passes(const BenchArgs& a);

// CPU time (user + system) of the process: a bench runs on one thread and
// starts no child, so this is bench/README.md's figure for what it brackets.
double cpu_now();

// Defined by each bench: its name (in error lines) and its body, given the
// command line's arguments after the program name; returns the exit status.
extern const char* const kBenchName;
int run_bench(const std::vector<std::string>& args);

}  // namespace mls::bench
