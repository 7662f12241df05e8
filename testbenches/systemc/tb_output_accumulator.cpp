// Output-accumulator testbench: fp32 sums of successive tree results in order,
// starting from +0.0, handed over at an output's last chunk tile, restarted
// with no bubble; one register stage.
#include "hw_model/array/output_accumulator.h"

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

ColumnValues tree_result(float c0, float c1, bool output_last) {
  ColumnValues v;
  v.tag.valid = true;
  v.tag.tile_last = true;
  v.tag.output_last = output_last;
  v.active_cols = 2;
  v.value = {c0, c1};
  return v;
}

// The block of a 4 x 2 array on its bench, with the counters it adds to.
struct OutAccBench {
  static ArrayConfig four_by_two() {
    ArrayConfig cfg;
    cfg.rows = 4;
    cfg.cols = 2;
    return cfg;
  }
  ArrayConfig cfg = four_by_two();
  Stats stats;
  tb::BlockBench<ColumnValues, ColumnValues, OutputAccumulator> bench{
      "bench", [this] { return new OutputAccumulator(cfg, &stats); }};
};

TEST(OutputAccumulator, SumsTilesInOrderAndRestartsPerOutput) {
  OutAccBench b;
  auto& bench = b.bench;
  // Output A: three tiles where fp32 order matters (1e8 + 1 + 1 = 1e8, not 1e8 + 2);
  // output B starts on the next cycle; -0.0 alone ends as +0.0 (+0 + -0).
  bench.stimulus = {tree_result(1e8f, 1.5f, false), tree_result(1.0f, 2.0f, false), tree_result(1.0f, -3.5f, true),
                    tree_result(-0.0f, 7.0f, true)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 2u);
  EXPECT_EQ(bench.seen[0].second.value[0], (0.0f + 1e8f) + 1.0f + 1.0f);
  EXPECT_EQ(bench.seen[0].second.value[0], 1e8f);
  EXPECT_EQ(bench.seen[0].second.value[1], 0.0f);
  EXPECT_EQ(bench.seen[0].first, 2 + 2) << "one register stage";
  EXPECT_FALSE(std::signbit(bench.seen[1].second.value[0])) << "the accumulator starts at +0.0";
  EXPECT_EQ(bench.seen[1].second.value[1], 7.0f);
  EXPECT_EQ(bench.seen[1].first, 3 + 2) << "no bubble between outputs";
  EXPECT_EQ(b.stats.out_acc, 8u);
}

// Between tiles the block sees only idle edges: a partial sum held across a
// long idle stretch must still meet the next tile at the right edge, and a
// reset during the stretch must still clear it.
TEST(OutputAccumulator, SleepingBetweenTilesKeepsPartialSumsAndStillSeesReset) {
  OutAccBench b;
  auto& bench = b.bench;
  const auto idle_until = [&](size_t edge) { bench.stimulus.resize(edge, ColumnValues{}); };
  bench.stimulus = {tree_result(5.0f, 6.0f, false)};
  idle_until(12);
  bench.stimulus.push_back(tree_result(1.0f, 2.0f, true));  // edge 12: completes 5 + 1, 6 + 2
  bench.stimulus.push_back(tree_result(3.0f, 4.0f, false));  // edge 13: a partial sum, then reset
  idle_until(30);
  sc_core::sc_start(20, sc_core::SC_NS);  // edges 0..19
  bench.rst.write(true);
  sc_core::sc_start(2, sc_core::SC_NS);  // edges 20, 21 in reset
  bench.rst.write(false);
  bench.stimulus.push_back(tree_result(7.0f, 8.0f, true));  // edge 30
  sc_core::sc_start(13, sc_core::SC_NS);
  ASSERT_EQ(bench.seen.size(), 2u);
  EXPECT_EQ(bench.seen[0].first, 12 + 2);
  EXPECT_EQ(bench.seen[0].second.value, (std::vector<float>{6.0f, 8.0f}));
  EXPECT_EQ(bench.seen[1].first, 30 + 2);
  EXPECT_EQ(bench.seen[1].second.value, (std::vector<float>{7.0f, 8.0f})) << "reset cleared 3, 4";
}

}  // namespace
}  // namespace mls::hw
