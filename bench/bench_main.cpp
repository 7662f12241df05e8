// The entry points every bench binary shares (bench_main.h).
#include "bench/bench_main.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <systemc>

#include "ref/core/error.h"

namespace mls::bench {

bool parse_bench_args(const std::vector<std::string>& args, cli::po::options_description& desc, BenchArgs& a) {
  namespace po = cli::po;
  cli::ConfigFlags flags;
  desc.add_options()
      ("trace", po::value(&a.trace_dir)->default_value(a.trace_dir), "trace directory")
      ("passes", po::value(&a.passes)->default_value(a.passes), "comma list of passes")
      ("repeat", po::value(&a.repeat)->default_value(a.repeat), "timed repetitions (best is kept)");
  cli::add_quant_options(desc, flags);
  cli::add_operand_options(desc, flags);
  cli::add_array_options(desc, flags);
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!cli::parse(args, std::string("usage: ") + kBenchName + " [TRACE_DIR] [options]", desc, pos, vm))
    return false;
  a.cfg = cli::to_config(flags);
  return true;
}

std::vector<Pass> bench_passes(const BenchArgs& a) {
  std::vector<Pass> passes;
  for (const std::string& p : cli::split_list(a.passes)) passes.push_back(parse_pass(p));
  return passes;
}

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace mls::bench

int sc_main(int argc, char* argv[]) {
  try {
    return mls::bench::run_bench(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const mls::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", mls::bench::kBenchName, e.what());
    return 1;
  }
}

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
