// Local-accumulator testbench: saturation and wrap at the register bounds,
// hand-over at the end of a chunk tile with no bubble, short chunks.
#include "hw_model/array/local_accumulator.h"

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using Bench = tb::BlockBench<Products, ChunkSums, LocalAccumulator>;

// One cycle of products for a 2 x 1 array (rows 0 and 1, one column).
Products step(int64_t row0, int64_t row1, bool tile_last, bool row1_active = true) {
  Products p;
  p.tag.valid = true;
  p.tag.tile_last = tile_last;
  p.row_active = {1, uint8_t(row1_active)};
  p.active_cols = 1;
  p.product = {row0, row1};
  return p;
}

ArrayConfig config(int acc_bits, Overflow policy) {
  ArrayConfig a;
  a.rows = 2;
  a.cols = 1;
  a.acc_bits = acc_bits;
  a.acc_overflow = policy;
  return a;
}

TEST(LocalAccumulator, SaturatesAtEightBitBounds) {
  const ArrayConfig cfg = config(8, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator("acc", cfg, &stats); });
  // Row 0: 100 + 100 = 200 -> 127 (overflow), 127 - 300 = -173 -> -128 (overflow), -128 + 5 = -123.
  // Row 1: 60 + 60 = 120, + 7 = 127 (in range, no overflow).
  bench.stimulus = {step(100, 60, false), step(100, 60, false), step(-300, 7, false), step(5, 0, true)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 1u);
  EXPECT_EQ(bench.seen[0].second.sum[0], -123);
  EXPECT_EQ(bench.seen[0].second.sum[1], 127);
  EXPECT_EQ(bench.seen[0].first, 3 + 2) << "hands over one edge after the last product";
  EXPECT_EQ(stats.acc_overflow, 2u);
  EXPECT_EQ(stats.acc_add, 8u);
}

TEST(LocalAccumulator, WidthNeededIsThatOfTheUnsaturatedSums) {
  const ArrayConfig cfg = config(8, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator("acc", cfg, &stats); });
  // The same stimulus as above. Unsaturated partial sums: row 0 100, 200,
  // -100, -95; row 1 60, 120, 127, 127; then a tile whose row 0 reaches -300
  // (-300 fits in 10 bits, [-512, 511]; 200 would fit in 9) and whose row 1
  // reaches 255 (9 bits).
  bench.stimulus = {step(100, 60, false), step(100, 60, false), step(-300, 7, false), step(5, 0, true),
                    step(-200, 255, false), step(-100, 0, true)};
  bench.run(2);
  EXPECT_EQ(bench.dut->width_needed(), 10);
  bench.dut->reset_width();
  EXPECT_EQ(bench.dut->width_needed(), 1) << "no sum since reset_width: 0 fits in one bit";
}

TEST(LocalAccumulator, WrapsModuloTwoToTheWidth) {
  const ArrayConfig cfg = config(8, Overflow::wrap);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator("acc", cfg, &stats); });
  // 100 + 100 = 200 -> 200 - 256 = -56; -56 - 100 = -156 -> 100; 100 + 27 = 127.
  bench.stimulus = {step(100, 0, false), step(100, 0, false), step(-100, 0, false), step(27, 0, true)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 1u);
  EXPECT_EQ(bench.seen[0].second.sum[0], 127);
  EXPECT_EQ(stats.acc_overflow, 2u);
}

TEST(LocalAccumulator, BackToBackTilesRestartFromZero) {
  const ArrayConfig cfg = config(16, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator("acc", cfg, &stats); });
  // Tile A: 1 + 2 + 3; tile B starts on the very next cycle: 10 + 20.
  bench.stimulus = {step(1, 4, false), step(2, 5, false), step(3, 6, true), step(10, 40, false), step(20, 50, true)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 2u);
  EXPECT_EQ(bench.seen[0].second.sum[0], 6);
  EXPECT_EQ(bench.seen[0].second.sum[1], 15);
  EXPECT_EQ(bench.seen[1].second.sum[0], 30);
  EXPECT_EQ(bench.seen[1].second.sum[1], 90);
  EXPECT_EQ(bench.seen[1].first - bench.seen[0].first, 2) << "no bubble between tiles";
}

TEST(LocalAccumulator, ShortChunkHoldsItsSumAndRowWithoutChunkIsInvalid) {
  const ArrayConfig cfg = config(16, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator("acc", cfg, &stats); });
  // Tile A: row 1's chunk is one product shorter. Tile B: row 1 has no chunk.
  bench.stimulus = {step(1, 7, false), step(2, 0, true, false), step(5, 0, true, false)};
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 2u);
  EXPECT_EQ(bench.seen[0].second.sum[1], 7);
  EXPECT_TRUE(bench.seen[0].second.row_valid[1]);
  EXPECT_EQ(bench.seen[1].second.sum[0], 5);
  EXPECT_FALSE(bench.seen[1].second.row_valid[1]);
  EXPECT_EQ(stats.acc_add, 4u);
}

}  // namespace
}  // namespace mls::hw
