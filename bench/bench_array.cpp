// Simulation speed: the SystemC array and the golden functional model run the
// same layer-passes of a trace in one process; prints simulated MACs per second
// for both and their ratio. Usage:
//   mlssim_bench [TRACE_DIR] [--passes fwd,...] [--rows R --cols C ...] [--repeat N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <systemc>

#include "hw_model/array/simulate_pass.h"
#include "hw_model/array/mac_array.h"
#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/mapping/mapping.h"
#include "sim/cli/cli_options.h"
#include "sim/run/layer.h"
#include "sim/io/trace.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Timing {
  double array = 0, golden = 0;
  int64_t macs = 0;
  uint64_t cycles = 0, stalls = 0, dram_bytes = 0;
};

int run_bench(const std::vector<std::string>& args) {
  namespace po = mls::cli::po;
  mls::cli::ConfigFlags flags;
  std::string trace_dir = std::string(MLSSIM_SOURCE_DIR) + "/traces/resnet20-digits", passes = "fwd";
  int repeat = 3;
  po::options_description desc("mlssim_bench options");
  desc.add_options()
      ("trace", po::value(&trace_dir)->default_value(trace_dir), "trace directory")
      ("passes", po::value(&passes)->default_value(passes), "comma list of passes")
      ("repeat", po::value(&repeat)->default_value(repeat), "timed repetitions (best is kept)");
  mls::cli::add_quant_options(desc, flags);
  mls::cli::add_operand_options(desc, flags);
  mls::cli::add_array_options(desc, flags);
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!mls::cli::parse(args, "usage: mlssim_bench [TRACE_DIR] [options]", desc, pos, vm)) return 0;
  const mls::MlsConfig cfg = mls::cli::to_config(flags);
  std::vector<mls::Pass> pass_list;
  for (const std::string& p : mls::cli::split_list(passes)) pass_list.push_back(mls::parse_pass(p));
  const mls::Trace trace = mls::load_trace(trace_dir);
  mls::hw::ArraySim sim(cfg);
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    Timing t;
    for (const mls::LayerTensors& lt : trace.layers) {
      const mls::QuantLayer layer = mls::quantize_layer(lt, cfg.quant);
      for (mls::Pass pass : pass_list) {
        if (!layer.has_pass(pass)) continue;
        const mls::LoweredPass lp = mls::lower_layer(layer, pass);
        const mls::QuantTensor& x = layer.x(pass);  // the pass's own quantization (block groupings)
        const mls::QuantTensor& y = layer.y(pass);
        const mls::hw::SimulatedPass simulated = mls::hw::simulate_pass(sim, lp, x, y);
        t.array += simulated.seconds;
        const auto t0 = Clock::now();
        const mls::GoldenResult g = mls::golden_pass(lp, x, y, cfg.array);
        t.golden += seconds(t0);
        t.macs += lp.macs();
        t.cycles += simulated.stats.cycles;
        t.stalls += simulated.stats.stall_cycles;
        t.dram_bytes += simulated.traffic.dram_read_bytes + simulated.traffic.dram_write_bytes;
        if (g.out.data != simulated.out.data) throw mls::Error("array and golden disagree on " + lt.name);
      }
    }
    if (r == 0 || t.array < best.array) best.array = t.array;
    if (r == 0 || t.golden < best.golden) best.golden = t.golden;
    best.macs = t.macs;
    best.cycles = t.cycles, best.stalls = t.stalls, best.dram_bytes = t.dram_bytes;
  }
  const double array_rate = double(best.macs) / best.array, golden_rate = double(best.macs) / best.golden;
  std::printf("trace %s, passes %s, %dx%d array, %s, chunk %d: %lld MACs per repetition (best of %d)\n",
              trace_dir.c_str(), passes.c_str(), cfg.array.rows, cfg.array.cols, cfg.quant.weight.elem.name().c_str(),
              cfg.array.chunk, (long long)best.macs, repeat);
  const mls::MemoryConfig& m = cfg.memory;
  if (m.ideal())
    std::printf("memory: ideal (unlimited buffers and bandwidth), dataflow %s\n",
                mls::to_string(cfg.array.dataflow).c_str());
  else
    std::printf("memory: buffers X %d, Y %d, out %d KiB (0: unlimited), DRAM %d B/cycle (0: unlimited), latency %d, "
                "dataflow %s\n",
                m.x_buffer_kb, m.y_buffer_kb, m.out_buffer_kb, m.dram_bw, m.dram_latency,
                mls::to_string(cfg.array.dataflow).c_str());
  std::printf("simulated: %llu cycles, %llu stall cycles, %llu DRAM bytes\n", (unsigned long long)best.cycles,
              (unsigned long long)best.stalls, (unsigned long long)best.dram_bytes);
  std::printf("SystemC array : %8.3f s  %10.3g MACs/s\n", best.array, array_rate);
  std::printf("golden model  : %8.3f s  %10.3g MACs/s\n", best.golden, golden_rate);
  std::printf("array / golden: %.3f\n", array_rate / golden_rate);
  return 0;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  try {
    return run_bench(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const mls::Error& e) {
    std::fprintf(stderr, "mlssim_bench: error: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
