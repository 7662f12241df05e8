// The golden model's rate counted as the Python module counts it
// (bench/README.md#the-python-module): every layer-pass of a trace with the
// operands' quantization (quantize_layer, once per layer for every pass, as
// the module and `mlssim conv` quantize) and the lowering inside the timing,
// on one thread, in CPU seconds; beside it the same golden passes with the
// quantization and lowering outside, as mlssim_bench times them. No SystemC
// simulation runs. Usage:
//   mlssim_bench_golden [TRACE_DIR] [--passes fwd,...] [--repeat N] [run's quantizer and array flags]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <systemc>
#include <vector>

#include "bench/bench_main.h"
#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/mapping/mapping.h"
#include "sim/cli/cli_options.h"
#include "sim/io/trace.h"
#include "sim/run/layer.h"

namespace {

using mls::bench::cpu_now;


struct Timing {
  double whole = 0;   // quantization + lowering + golden passes
  double golden = 0;  // the golden passes alone
  int64_t macs = 0;
};

volatile float sink = 0;  // a result is used: no pass can be dropped

// One repetition: per layer, the quantization of W, A and E and, per pass,
// the lowering and golden_pass; `golden` brackets golden_pass alone.
Timing run_once(const mls::Trace& trace, const std::vector<mls::Pass>& passes, const mls::MlsConfig& cfg) {
  Timing t;
  const double start = cpu_now();
  for (const mls::LayerTensors& lt : trace.layers) {
    const mls::QuantLayer layer = mls::quantize_layer(lt, cfg.quant);
    for (mls::Pass pass : passes) {
      if (!layer.has_pass(pass)) continue;
      const mls::LoweredPass lp = mls::lower_layer(layer, pass);
      const double g0 = cpu_now();
      const mls::GoldenResult g = mls::golden_pass(lp, layer.x(pass), layer.y(pass), cfg.array);
      t.golden += cpu_now() - g0;
      t.macs += lp.macs();
      if (!g.out.data.empty()) sink = sink + g.out.data[0];
    }
  }
  t.whole = cpu_now() - start;
  return t;
}

}  // namespace

namespace mls::bench {

const char* const kBenchName = "mlssim_bench_golden";

int run_bench(const std::vector<std::string>& args) {
  BenchArgs a;
  cli::po::options_description desc("mlssim_bench_golden options");
  if (!parse_bench_args(args, desc, a)) return 0;
  const std::vector<Pass> pass_list = bench_passes(a);
  const mls::Trace trace = mls::load_trace(a.trace_dir);
  Timing best;
  for (int r = 0; r < a.repeat; ++r) {
    const Timing t = run_once(trace, pass_list, a.cfg);
    if (r == 0 || t.whole < best.whole) best.whole = t.whole;
    if (r == 0 || t.golden < best.golden) best.golden = t.golden;
    best.macs = t.macs;
  }
  const double macs = double(best.macs);
  std::printf("trace %s, passes %s: %lld MACs per repetition (best of %d)\n", a.trace_dir.c_str(), a.passes.c_str(),
              (long long)best.macs, a.repeat);
  std::printf("%-32s %10s %14s\n", "", "CPU s", "MACs/CPU-s");
  std::printf("%-32s %10.3f %14.3g\n", "golden, quantization included", best.whole, macs / best.whole);
  std::printf("%-32s %10.3f %14.3g\n", "golden model", best.golden, macs / best.golden);
  return 0;
}

}  // namespace mls::bench
