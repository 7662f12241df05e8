// Simulation speed (bench/README.md: MACs per CPU-second): the SystemC array, the
// golden functional model and a plain int16 dot-product loop run in one
// process; prints simulated MACs per CPU-second of each (user + system time:
// the figure the targets are in), their ratios, and wall time beside. Usage:
//   mlssim_bench [TRACE_DIR] [--passes fwd,...] [--rows R --cols C ...] [--repeat N]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <systemc>
#include <vector>

#include "hw_model/array/simulate_pass.h"
#include "hw_model/array/mac_array.h"
#include "bench/bench_main.h"
#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/mapping/mapping.h"
#include "sim/cli/cli_options.h"
#include "sim/run/layer.h"
#include "sim/io/trace.h"

namespace {

using mls::bench::cpu_now;

using Clock = std::chrono::steady_clock;


// CPU and wall seconds of a section.
struct Span {
  double cpu = 0, wall = 0;
};

class Stopwatch {
 public:
  Stopwatch() : cpu0_(cpu_now()), wall0_(Clock::now()) {}
  Span elapsed() const {
    return {cpu_now() - cpu0_, std::chrono::duration<double>(Clock::now() - wall0_).count()};
  }

 private:
  double cpu0_;
  Clock::time_point wall0_;
};

struct Timing {
  Span array, golden;
  int64_t macs = 0;
  uint64_t cycles = 0, stalls = 0, dram_bytes = 0;
};

// The plain int16 dot-product loop: the physical limit of computing the
// values (no formats, no accumulator range, no tree). 64 rows of 576 int16
// (a 3x3 conv's k for 64 channels) against a stream of vectors, int32 sums,
// compiled for AVX2 (pmaddwd) and the baseline. Neither model's kernel: the
// bench's own yardstick.
constexpr int kDotRows = 64, kDotLen = 576;

__attribute__((target_clones("avx2", "default"))) int32_t dot_rows(const int16_t* x, const int16_t* y,
                                                                   int32_t* out) {
  int32_t check = 0;
  for (int r = 0; r < kDotRows; ++r) {
    int32_t s = 0;
    for (int k = 0; k < kDotLen; ++k) s += int32_t(x[r * kDotLen + k]) * y[k];
    out[r] = s;
    check ^= s;
  }
  return check;
}

volatile int32_t dot_sink = 0;

// MACs per CPU-second (and wall) of dot_rows over `vectors` Y vectors.
struct DotRate {
  double cpu_rate = 0, wall_rate = 0;
  int32_t check = 0;
};

DotRate dot_loop_rate(int64_t vectors) {
  constexpr int kDistinct = 64;  // Y vectors cycled through: all in L2
  std::vector<int16_t> x(size_t(kDotRows) * kDotLen), y(size_t(kDistinct) * kDotLen);
  uint32_t s = 12345;  // a fixed LCG: operands of e2m4's range (|q| <= 124)
  for (int16_t& v : x) v = int16_t(int((s = s * 1664525u + 1013904223u) >> 24) - 128);
  for (int16_t& v : y) v = int16_t(int((s = s * 1664525u + 1013904223u) >> 24) - 128);
  std::vector<int32_t> out(kDotRows);
  DotRate r;
  const Stopwatch watch;
  for (int64_t v = 0; v < vectors; ++v) r.check ^= dot_rows(x.data(), &y[size_t(v % kDistinct) * kDotLen], out.data());
  const Span t = watch.elapsed();
  const double macs = double(vectors) * kDotRows * kDotLen;
  r.cpu_rate = macs / t.cpu, r.wall_rate = macs / t.wall;
  dot_sink = r.check;  // the sums are used: the loop cannot be dropped
  return r;
}

// mlssim_bench's own flag besides the shared ones (bench_main.h).
struct ArrayBenchArgs : mls::bench::BenchArgs {
  int64_t dot_vectors = int64_t{1} << 15;  // 1.2e9 MACs per repetition of the dot loop
};

// One repetition: every layer-pass through the array (the job's building
// included: it is the array's DMA step) and the golden model (its planes
// included), in CPU time; the two must agree bit for bit. Quantization and
// lowering, shared by both, are outside both timings.
Timing run_once(mls::hw::ArraySim& sim, const mls::Trace& trace, const std::vector<mls::Pass>& passes,
                const mls::MlsConfig& cfg) {
  Timing t;
  auto add = [](Span& to, const Span& s) { to.cpu += s.cpu, to.wall += s.wall; };
  for (const mls::LayerTensors& lt : trace.layers) {
    const mls::QuantLayer layer = mls::quantize_layer(lt, cfg.quant);
    for (mls::Pass pass : passes) {
      if (!layer.has_pass(pass)) continue;
      const mls::LoweredPass lp = mls::lower_layer(layer, pass);
      const mls::QuantTensor& x = layer.x(pass);  // the pass's own quantization (block groupings)
      const mls::QuantTensor& y = layer.y(pass);
      const Stopwatch array_watch;
      const mls::hw::SimulatedPass simulated = mls::hw::simulate_pass(sim, lp, x, y);
      add(t.array, array_watch.elapsed());
      const Stopwatch golden_watch;
      const mls::GoldenResult g = mls::golden_pass(lp, x, y, cfg.array);
      add(t.golden, golden_watch.elapsed());
      t.macs += lp.macs();
      t.cycles += simulated.stats.cycles;
      t.stalls += simulated.stats.stall_cycles;
      t.dram_bytes += simulated.traffic.dram_read_bytes + simulated.traffic.dram_write_bytes;
      if (g.out.data != simulated.out.data) throw mls::Error("array and golden disagree on " + lt.name);
    }
  }
  return t;
}

void print_memory(const mls::MlsConfig& cfg) {
  const mls::MemoryConfig& m = cfg.memory;
  if (m.ideal())
    std::printf("memory: ideal (unlimited buffers and bandwidth), dataflow %s\n",
                mls::to_string(cfg.array.dataflow).c_str());
  else
    std::printf("memory: buffers X %d, Y %d, out %d KiB (0: unlimited), DRAM %d B/cycle (0: unlimited), latency %d, "
                "dataflow %s\n",
                m.x_buffer_kb, m.y_buffer_kb, m.out_buffer_kb, m.dram_bw, m.dram_latency,
                mls::to_string(cfg.array.dataflow).c_str());
}

void print_rates(const ArrayBenchArgs& a, const Timing& best, const DotRate& dot) {
  const mls::MlsConfig& cfg = a.cfg;
  std::printf("trace %s, passes %s, %dx%d array, %s, chunk %d: %lld MACs per repetition (best of %d)\n",
              a.trace_dir.c_str(), a.passes.c_str(), cfg.array.rows, cfg.array.cols,
              cfg.quant.weight.elem.name().c_str(), cfg.array.chunk, (long long)best.macs, a.repeat);
  print_memory(cfg);
  std::printf("simulated: %llu cycles, %llu stall cycles, %llu DRAM bytes\n", (unsigned long long)best.cycles,
              (unsigned long long)best.stalls, (unsigned long long)best.dram_bytes);
  const double macs = double(best.macs);
  const double array_rate = macs / best.array.cpu, golden_rate = macs / best.golden.cpu;
  std::printf("%-15s %10s %14s %10s %14s\n", "", "CPU s", "MACs/CPU-s", "wall s", "MACs/wall-s");
  std::printf("%-15s %10.3f %14.3g %10.3f %14.3g\n", "SystemC array", best.array.cpu, array_rate, best.array.wall,
              macs / best.array.wall);
  std::printf("%-15s %10.3f %14.3g %10.3f %14.3g\n", "golden model", best.golden.cpu, golden_rate,
              best.golden.wall, macs / best.golden.wall);
  std::printf("%-15s %10s %14.3g %10s %14.3g\n", "int16 dot loop", "", dot.cpu_rate, "", dot.wall_rate);
  std::printf("ratios (CPU): array / golden %.3f, array / dot loop %.4f, golden / dot loop %.4f\n",
              array_rate / golden_rate, array_rate / dot.cpu_rate, golden_rate / dot.cpu_rate);
  std::printf("cost per product (CPU): array %.3f ns, golden %.3f ns, dot loop %.4f ns\n", 1e9 / array_rate,
              1e9 / golden_rate, 1e9 / dot.cpu_rate);
}

}  // namespace

namespace mls::bench {

const char* const kBenchName = "mlssim_bench";

int run_bench(const std::vector<std::string>& args) {
  ArrayBenchArgs a;
  cli::po::options_description desc("mlssim_bench options");
  desc.add_options()("dot-vectors", cli::po::value(&a.dot_vectors)->default_value(a.dot_vectors),
                     "Y vectors of the int16 dot loop per repetition (36,864 MACs each; 0: no dot loop, e.g. under "
                     "callgrind)");
  if (!parse_bench_args(args, desc, a)) return 0;
  const std::vector<Pass> pass_list = bench_passes(a);
  const mls::Trace trace = mls::load_trace(a.trace_dir);
  mls::hw::ArraySim sim(a.cfg);
  Timing best;
  for (int r = 0; r < a.repeat; ++r) {
    const Timing t = run_once(sim, trace, pass_list, a.cfg);
    if (r == 0 || t.array.cpu < best.array.cpu) best.array = t.array;
    if (r == 0 || t.golden.cpu < best.golden.cpu) best.golden = t.golden;
    best.macs = t.macs, best.cycles = t.cycles, best.stalls = t.stalls, best.dram_bytes = t.dram_bytes;
  }
  DotRate dot;
  for (int r = 0; r < a.repeat && a.dot_vectors > 0; ++r) {
    const DotRate d = dot_loop_rate(a.dot_vectors);
    if (d.cpu_rate > dot.cpu_rate) dot = d;
  }
  print_rates(a, best, dot);
  return 0;
}

}  // namespace mls::bench
