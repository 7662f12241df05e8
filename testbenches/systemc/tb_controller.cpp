// Controller testbench: the issue sequence of one layer-pass, checked against
// the loop nest of docs/reference.md#the-modelled-array written out here: m-tile, p, chunk-tile, step, with
// chunks dealt group-major, R at a time, and each tile as long as its longest chunk.
#include "hw_model/array/controller.h"
#include "hw_model/channels/clocked.h"

#include <vector>

#include "ref/core/error.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

struct ControllerBench : sc_core::sc_module {
  sc_core::sc_clock clk{"clk", 1, sc_core::SC_NS};
  sc_core::sc_signal<bool> rst{"rst"};
  PipeReg<IssueCmd> cmd{"cmd"};
  Controller controller;
  Clocked<Controller> module;
  std::vector<IssueCmd> issued;

  SC_HAS_PROCESS(ControllerBench);
  ControllerBench(sc_core::sc_module_name name, const ArrayConfig& cfg)
      : sc_module(name), controller(cfg), module("ctl", controller) {
    module.clk(clk);
    module.rst(rst);
    module.out(cmd);
    SC_METHOD(record);
    sensitive << clk.posedge_event();
    dont_initialize();
  }
  void record() {
    if (cmd.read().tag.valid) issued.push_back(cmd.read());
  }
};

TEST(Controller, IssuesTheSpecLoopNest) {
  ArrayConfig cfg;
  cfg.rows = 4;
  cfg.cols = 3;
  cfg.chunk = 4;
  // M = 5 (two m-tiles, the second with 2 columns), P = 2, G = 3 groups of K = 6:
  // chunks of 4 and 2 per group -> 6 chunks, tiles {4,2,4,2} (len 4) and {4,2} (len 4).
  LayerJob job;
  job.m = 5, job.p = 2, job.g = 3, job.k = 6;
  job.mapping = Mapping::for_array(cfg);
  job.plan = job.mapping.chunk_plan(6, 3);
  ControllerBench bench("bench", cfg);
  bench.controller.start(job);
  sc_core::sc_start(100, sc_core::SC_NS);

  // What each issue must say, row by row: (active, g, k).
  struct Want {
    Tag tag;
    int active_cols;
    bool active[4];
    int g[4], k[4];
  };
  std::vector<Want> expect;
  const int chunk_len[6] = {4, 2, 4, 2, 4, 2}, chunk_g[6] = {0, 0, 1, 1, 2, 2}, chunk_k0[6] = {0, 4, 0, 4, 0, 4};
  for (int mt = 0; mt < 2; ++mt)
    for (int p = 0; p < 2; ++p)
      for (int tile = 0; tile < 2; ++tile)
        for (int step = 0; step < 4; ++step) {
          Want c{};
          c.tag = {true, step == 3, step == 3 && tile == 1, mt, p, tile};
          c.active_cols = mt == 0 ? 3 : 2;
          for (int r = 0; r < 4; ++r) {
            const int j = tile * 4 + r;
            c.active[r] = j < 6 && step < chunk_len[j];
            c.g[r] = j < 6 ? chunk_g[j] : 0;
            c.k[r] = j < 6 ? chunk_k0[j] + step : 0;
          }
          expect.push_back(c);
        }
  ASSERT_EQ(bench.issued.size(), expect.size()) << "sum over (m-tile, p, tile) of the longest chunk";
  EXPECT_EQ(bench.controller.total_issues(), expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    const IssueCmd& got = bench.issued[i];
    const Want& want = expect[i];
    SCOPED_TRACE("issue " + std::to_string(i));
    EXPECT_EQ(got.tag.m_tile, want.tag.m_tile);
    EXPECT_EQ(got.tag.p, want.tag.p);
    EXPECT_EQ(got.tag.tile, want.tag.tile);
    EXPECT_EQ(got.tag.tile_last, want.tag.tile_last);
    EXPECT_EQ(got.tag.output_last, want.tag.output_last);
    EXPECT_EQ(got.active_cols, want.active_cols);
    EXPECT_EQ(got.step0(), i % 4 == 0);
    unsigned active_rows = 0;
    for (int r = 0; r < 4; ++r) {
      EXPECT_EQ(got.row_active(r), want.active[r]) << "row " << r;
      active_rows += want.active[r];
      if (!want.active[r]) continue;
      EXPECT_EQ(got.row_g(r), want.g[r]);
      EXPECT_EQ(got.row_k(r), want.k[r]);
      EXPECT_EQ(got.rows->gk0[size_t(r)] + got.step, int64_t(want.g[r]) * 6 + want.k[r]) << "g K + k";
    }
    EXPECT_EQ(got.rows->active_at[size_t(got.step)], active_rows);
    // The tile's chunk lengths: 4 + 2 + 4 + 2, then 4 + 2.
    EXPECT_EQ(got.rows->row_steps, got.tag.tile == 0 ? 12u : 6u);
  }
  EXPECT_FALSE(bench.controller.busy());
}

TEST(Controller, RefusesAJobMappedForAnotherArray) {
  ArrayConfig cfg;
  cfg.rows = 4;
  cfg.cols = 3;
  LayerJob job;
  job.m = job.p = job.g = job.k = 1;
  job.mapping = Mapping(Dataflow::baseline, 4, 4, 16);  // 4 columns, the array has 3
  ControllerBench bench("bench", cfg);
  EXPECT_THROW(bench.controller.start(job), Error);
}

}  // namespace
}  // namespace mls::hw
