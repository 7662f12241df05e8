// Adder-tree testbench: the pairwise order (on values where fp32 order
// matters), pass-through of rows without a chunk, pipeline latency, add count.
#include "hw_model/array/adder_tree.h"

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using Bench = tb::BlockBench<ScaledSums, ColumnValues, AdderTree>;

// Exactly representable, but 1e8 + 1 rounds back to 1e8 in fp32.
const float kA[8] = {1e8f, 1.0f, -1e8f, 1.0f, 3.0f, 0.5f, 7.0f, 0.25f};

ScaledSums eight_rows(int valid_rows, float column1_scale) {
  ScaledSums s;
  s.tag.valid = true;
  s.active_cols = 2;
  for (int r = 0; r < 8; ++r) {
    s.row_valid.push_back(r < valid_rows);
    s.value.push_back(kA[r]);
    s.value.push_back(kA[r] * column1_scale);
  }
  return s;
}

void check_tree(int stages) {
  ArrayConfig cfg;
  cfg.rows = 8;
  cfg.cols = 2;
  cfg.tree_stages = stages;
  Stats stats;
  Bench bench("bench", [&] { return new AdderTree(cfg, &stats); });
  EXPECT_EQ(bench.dut->stages(), stages);
  bench.stimulus = {eight_rows(8, 1.0f), eight_rows(5, -2.0f), eight_rows(1, 1.0f)};
  bench.run(stages + 2);
  ASSERT_EQ(bench.seen.size(), 3u);
  const float* a = kA;
  // The documented order, written out: ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)).
  const float full = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  EXPECT_EQ(full, 10.75f) << "pairs (0,1) and (2,3) cancel to 0; a serial sum would give 11.75";
  EXPECT_EQ(bench.seen[0].second.value[0], full);
  // Rows 5..7 without a chunk pass row 4 through: ((a0+a1)+(a2+a3)) + a4.
  const float b = -2.0f;
  EXPECT_EQ(bench.seen[1].second.value[1], ((a[0] * b + a[1] * b) + (a[2] * b + a[3] * b)) + a[4] * b);
  EXPECT_EQ(bench.seen[2].second.value[0], a[0]);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bench.seen[size_t(i)].first, i + 1 + stages) << "latency = stages";
  EXPECT_EQ(stats.tree_add, uint64_t(2 * (7 + 4 + 0)));
}

TEST(AdderTree, PairwiseOrderThreeStages) { check_tree(3); }
TEST(AdderTree, PairwiseOrderOneStage) { check_tree(1); }
TEST(AdderTree, PairwiseOrderTwoStages) { check_tree(2); }

TEST(AdderTree, NaiveLeftToRightOrderWouldDiffer) {
  // Guards the test above: on these values the order is visible.
  const float* a = kA;
  float serial = 0.0f;
  for (float v : kA) serial += v;
  EXPECT_NE(serial, ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
}

}  // namespace
}  // namespace mls::hw
