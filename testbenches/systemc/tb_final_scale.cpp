// Final-scale testbench: F = fp32(S_t^X S_t^Y u_X u_Y) with one rounding, one
// fp32 multiply per output, written to the output memory at its index.
#include "hw_model/array/final_scale.h"
#include "hw_model/channels/clocked.h"

#include <cmath>

#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

struct FinalScaleBench : sc_core::sc_module {
  sc_core::sc_clock clk{"clk", 1, sc_core::SC_NS};
  sc_core::sc_signal<bool> rst{"rst"};
  PipeReg<ColumnValues> in_reg{"in"};
  FinalScale unit;
  Clocked<FinalScale> module;
  std::vector<ColumnValues> stimulus;

  SC_HAS_PROCESS(FinalScaleBench);
  FinalScaleBench(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
      : sc_module(name), unit(cfg, stats), module("final", unit) {
    module.clk(clk);
    module.rst(rst);
    module.in(in_reg);
    SC_METHOD(drive);
    sensitive << clk.posedge_event();
    dont_initialize();
  }
  void drive() {
    const size_t e = size_t(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_NS));
    in_reg.next() = e < stimulus.size() ? stimulus[e] : ColumnValues{};
  }
};

TEST(FinalScale, MultipliesByTheRoundedTensorScaleAndWritesByIndex) {
  ArrayConfig cfg;
  cfg.cols = 2;
  // S_t^X * S_t^Y = 0.1f * 3.3f is not exact in fp32: F is its one rounding, times u^2.
  LayerJob job;
  job.m = 3, job.p = 1;
  job.x_elem = job.y_elem = ElemFormat{2, 4};  // emin = 1 - 2^2 = -3, u = 2^(emin - 4) = 2^-7
  job.s_t_x = 0.1f;
  job.s_t_y = 3.3f;
  job.out_index = {2, 0, 1};  // Out[m, 0] goes to flat index out_index[m]
  std::vector<float> out(3, -1.0f);
  job.out = out.data();
  Stats stats;
  FinalScaleBench bench("bench", cfg, &stats);
  bench.unit.load(job);
  ColumnValues first, second;
  first.tag.valid = first.tag.output_last = true;
  first.tag.m_tile = 0;
  first.active_cols = 2;
  first.value = {3.0f, -5.0f};
  second = first;
  second.tag.m_tile = 1;
  second.active_cols = 1;
  second.value = {1e30f, 0.0f};
  bench.stimulus = {first, second};
  sc_core::sc_start(10, sc_core::SC_NS);

  const float f = float(std::ldexp(double(0.1f) * double(3.3f), -14));  // u^2 = 2^-14; exact product, rounded once
  EXPECT_EQ(out[2], 3.0f * f);
  EXPECT_EQ(out[0], -5.0f * f);
  EXPECT_EQ(out[1], 1e30f * f);
  EXPECT_TRUE(bench.unit.done());
  EXPECT_EQ(stats.final_mul, 3u);
  EXPECT_EQ(stats.write_out, 3u);
  EXPECT_EQ(bench.unit.last_write_time(), sc_core::sc_time(2, sc_core::SC_NS)) << "second bundle, one stage";
}

}  // namespace
}  // namespace mls::hw
