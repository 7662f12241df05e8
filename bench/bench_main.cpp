// The entry points every bench binary shares (bench_main.h).
#include "bench/bench_main.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <systemc>

#include "ref/core/error.h"

namespace mls::bench {

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
