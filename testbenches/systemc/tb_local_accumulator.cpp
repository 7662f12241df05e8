// Local-accumulator testbench: saturation and wrap at the register bounds,
// hand-over at the end of a chunk tile with no bubble, short chunks.
#include "hw_model/array/local_accumulator.h"

#include <algorithm>
#include <deque>
#include <random>

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using Bench = tb::BlockBench<Products, ChunkSums, LocalAccumulator>;

// One cycle's stimulus on an R x C array: PE (r, c)'s product is
// x[r * C + c] * y[r] when row r is active (a row active in a tile is so
// from the tile's first step on, for as many steps as its chunk has).
struct Step {
  std::vector<int32_t> x, y;
  std::vector<uint8_t> active;
  int active_cols = 0;
  bool tile_last = false;
  bool narrow = false;
};

// Products travel as their decoded operands, addressed per tile (Products):
// a tile's rows, its X values (X buffer row r * steps + s holds row r's at
// step s) and its Y values ([r][s]). They live here while the bench runs.
struct TileData {
  TileRows rows;
  std::vector<int32_t> x, y;
};
std::deque<TileData> tile_store;

// The bundles of a run of steps, tile by tile (a tile ends at tile_last).
std::vector<Products> bundles(int rows, int cols, const std::vector<Step>& steps) {
  std::vector<Products> out;
  size_t first = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!steps[i].tile_last) continue;
    const int32_t n = int32_t(i + 1 - first);
    TileData& t = tile_store.emplace_back();
    t.rows.steps = n;
    t.rows.len.assign(size_t(rows), 0), t.rows.g = t.rows.k0 = t.rows.len;
    t.rows.active_at.assign(size_t(n), 0);
    t.x.assign(size_t(rows) * size_t(n) * size_t(cols), 0), t.y.assign(size_t(rows) * size_t(n), 0);
    for (int r = 0; r < rows; ++r) {
      t.rows.gk0.push_back(int64_t(r) * n);
      for (int32_t s = 0; s < n && steps[first + size_t(s)].active[size_t(r)]; ++s) {
        const Step& st = steps[first + size_t(s)];
        ++t.rows.len[size_t(r)], ++t.rows.active_at[size_t(s)], ++t.rows.row_steps;
        std::copy_n(&st.x[size_t(r * cols)], cols, &t.x[(size_t(r) * size_t(n) + size_t(s)) * size_t(cols)]);
        t.y[size_t(r) * size_t(n) + size_t(s)] = st.y[size_t(r)];
      }
    }
    for (int32_t s = 0; s < n; ++s) {
      Products p;
      p.tag.valid = true;
      p.tag.tile_last = s == n - 1;
      p.rows = &t.rows, p.step = s;
      p.active_cols = steps[first].active_cols;
      p.narrow = steps[first].narrow;
      p.x_plane = t.x.data(), p.x_stride = cols;
      p.y_values = t.y.data(), p.y_at = t.rows.gk0.data();  // row r's Y values from r * n on, as its X rows
      out.push_back(p);
    }
    first = i + 1;
  }
  return out;
}

// One cycle of a 2 x 1 array (rows 0 and 1, one column): row r's product is
// x[r] * y[r].
Step step_xy(int32_t x0, int32_t y0, int32_t x1, int32_t y1, bool tile_last, bool row1_active = true) {
  return Step{{x0, x1}, {y0, y1}, {1, uint8_t(row1_active)}, 1, tile_last};
}

// The same with products row0 and row1 (y = 1).
Step step(int32_t row0, int32_t row1, bool tile_last, bool row1_active = true) {
  return step_xy(row0, 1, row1, 1, tile_last, row1_active);
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
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  // Row 0: 100 + 100 = 200 -> 127 (overflow), 127 - 300 = -173 -> -128 (overflow), -128 + 5 = -123.
  // Row 1: 60 + 60 = 120, + 7 = 127 (in range, no overflow).
  bench.stimulus = bundles(2, 1, {step(100, 60, false), step(100, 60, false), step(-300, 7, false), step(5, 0, true)});
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
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  // The same stimulus as above. Unsaturated partial sums: row 0 100, 200,
  // -100, -95; row 1 60, 120, 127, 127; then a tile whose row 0 reaches -300
  // (-300 fits in 10 bits, [-512, 511]; 200 would fit in 9) and whose row 1
  // reaches 255 (9 bits).
  bench.stimulus = bundles(2, 1, {step(100, 60, false), step(100, 60, false), step(-300, 7, false), step(5, 0, true),
                    step(-200, 255, false), step(-100, 0, true)});
  bench.run(2);
  EXPECT_EQ(bench.dut->width_needed(), 10);
  bench.dut->reset_width();
  EXPECT_EQ(bench.dut->width_needed(), 1) << "no sum since reset_width: 0 fits in one bit";
}

TEST(LocalAccumulator, WrapsModuloTwoToTheWidth) {
  const ArrayConfig cfg = config(8, Overflow::wrap);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  // 100 + 100 = 200 -> 200 - 256 = -56; -56 - 100 = -156 -> 100; 100 + 27 = 127.
  bench.stimulus = bundles(2, 1, {step(100, 0, false), step(100, 0, false), step(-100, 0, false), step(27, 0, true)});
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 1u);
  EXPECT_EQ(bench.seen[0].second.sum[0], 127);
  EXPECT_EQ(stats.acc_overflow, 2u);
}

TEST(LocalAccumulator, BackToBackTilesRestartFromZero) {
  const ArrayConfig cfg = config(16, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  // Tile A: 1 + 2 + 3; tile B starts on the very next cycle: 10 + 20.
  bench.stimulus = bundles(2, 1, {step(1, 4, false), step(2, 5, false), step(3, 6, true), step(10, 40, false), step(20, 50, true)});
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
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  // Tile A: row 1's chunk is one product shorter. Tile B: row 1 has no chunk.
  bench.stimulus = bundles(2, 1, {step(1, 7, false), step(2, 0, true, false), step(5, 0, true, false)});
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 2u);
  EXPECT_EQ(bench.seen[0].second.sum[1], 7);
  EXPECT_TRUE(bench.seen[0].second.row_valid[1]);
  EXPECT_EQ(bench.seen[1].second.sum[0], 5);
  EXPECT_FALSE(bench.seen[1].second.row_valid[1]);
  EXPECT_EQ(stats.acc_add, 4u);
}

// The narrowest two's-complement width holding v, by exact 128-bit
// arithmetic: the least w with -2^(w-1) <= v < 2^(w-1).
int width_of(__int128 v) {
  int w = 1;
  while (!(v >= -(__int128(1) << (w - 1)) && v < (__int128(1) << (w - 1)))) ++w;
  return w;
}

// The widest chunk sums e4m12 allows, past 64 bits: k products of its largest
// magnitude, q = (2^13 - 1) * 2^14 (docs/reference.md: M = 12, exponent field
// 2^4 - 1 = 15, so 14 shifts), in one tile; row 0 adds +q^2, row 1 -q^2.
void widest_e4m12_chunk(int64_t k, int expected) {
  const int32_t q = int32_t{8191} << 14;
  ASSERT_EQ((ElemFormat{4, 12}.max_q()), q);
  ASSERT_EQ(width_of(__int128(k) * q * q), expected);
  ASSERT_EQ(width_of(-__int128(k) * q * q), expected);
  const ArrayConfig cfg = config(62, Overflow::saturate);
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  std::vector<Step> steps;
  for (int64_t i = 0; i < k; ++i) steps.push_back(step_xy(q, q, -q, q, i == k - 1));
  bench.stimulus = bundles(2, 1, steps);
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), 1u);
  EXPECT_EQ(bench.seen[0].second.sum[0], (int64_t{1} << 61) - 1) << "saturated at the 62-bit bound";
  EXPECT_EQ(bench.dut->width_needed(), expected);
}

// 1024 * (2^54 - 2^42 + 2^28) < 2^64: 65 bits; 65536 times it < 2^70: 71.
TEST(LocalAccumulator, WidthNeededPastSixtyFourBitsAtK1024) { widest_e4m12_chunk(1024, 65); }
TEST(LocalAccumulator, WidthNeededPastSixtyFourBitsAtK65536) { widest_e4m12_chunk(65536, 71); }

// A wide reference accumulator for the randomised tests below: 128-bit sums,
// the policy applied by its definition (clamp to the bounds, or reduce modulo
// 2^acc_bits into the signed range), exact sums kept apart.
struct WideModel {
  int bits;
  Overflow policy;
  std::vector<__int128> acc, exact;
  uint64_t overflows = 0;
  int width = 1;  // narrowest two's-complement width holding every exact partial sum

  void add(size_t i, int64_t p) {
    const __int128 lo = -(__int128(1) << (bits - 1)), hi = (__int128(1) << (bits - 1)) - 1;
    __int128 raw = acc[i] + p;
    if (raw < lo || raw > hi) {
      ++overflows;
      if (policy == Overflow::saturate) {
        raw = raw > hi ? hi : lo;
      } else {
        const __int128 span = __int128(1) << bits;
        raw = ((raw - lo) % span + span) % span + lo;
      }
    }
    acc[i] = raw;
    exact[i] += p;
    int w = 1;
    while (!(exact[i] >= -(__int128(1) << (w - 1)) && exact[i] < (__int128(1) << (w - 1)))) ++w;
    width = std::max(width, w);
  }
};

// Random tiles on a 4 x 8 array with products near the register bounds, so
// that rows overflow in the middle of a tile, other tiles stay in range, rows
// (shorter chunks, none) and columns come and go from tile to tile: the sums, the overflow count and width_needed() against WideModel.
// `narrow`: the products are marked narrow (Products::narrow; the accumulator
// adds in 32-bit lanes, or in 64-bit ones when acc_bits > 31). `dense`: every
// row active and usually every column. A product is x * y: Y's value of the
// row times X's of the column, each of about half the product's bits.
void random_tiles(int acc_bits, Overflow policy, uint32_t seed, bool narrow = false, bool dense = false) {
  ArrayConfig cfg;
  cfg.rows = 4;
  cfg.cols = 8;
  cfg.acc_bits = acc_bits;
  cfg.acc_overflow = policy;
  Stats stats;
  Bench bench("bench", [&] { return new LocalAccumulator(cfg, &stats); });
  WideModel model{acc_bits, policy, std::vector<__int128>(32, 0), std::vector<__int128>(32, 0)};
  std::vector<std::vector<int64_t>> expected;
  std::mt19937_64 rng(seed);
  // |product| < 2^p_bits (x and y below 2^31 each); narrow ones below 2^30.
  const int p_bits = std::min(narrow ? 30 : 60, acc_bits - 2);
  for (int tile = 0; tile < 40; ++tile) {
    // Small products (tiles that stay in range) or large ones (overflows).
    const int bits = tile % 3 == 0 ? p_bits : std::max(1, acc_bits - 8);
    const int steps = 1 + int(rng() % 6);
    // A tile's columns are fixed; a row is active for the first len steps.
    const int active_cols = dense && rng() % 4 != 0 ? 8 : 1 + int(rng() % 8);
    int len[4];
    for (int& l : len) l = dense ? steps : int(rng() % uint64_t(steps + 1));
    std::vector<Step> tile_steps;
    for (int s = 0; s < steps; ++s) {
      Step p;
      p.tile_last = s == steps - 1;
      p.narrow = narrow;
      p.active_cols = active_cols;
      const int y_bits = std::max(1, bits / 2), x_bits = std::max(1, bits - y_bits);
      for (int r = 0; r < 4; ++r) {
        p.active.push_back(s < len[r]);
        // Top bits set: every product in [2^(bits - 2), 2^bits), as the
        // stimulus must reach the bounds.
        const int32_t y = int32_t((rng() >> (64 - y_bits)) | (uint64_t{1} << (y_bits - 1)));
        p.y.push_back(rng() & 1 ? -y : y);
        for (int c = 0; c < 8; ++c) {
          const int32_t mag = int32_t((rng() >> (64 - x_bits)) | (uint64_t{1} << (x_bits - 1)));
          p.x.push_back(rng() % 8 == 0 ? 0 : rng() & 1 ? -mag : mag);
        }
        for (int c = 0; c < active_cols && s < len[r]; ++c)
          model.add(size_t(r * 8 + c), int64_t(p.x[size_t(r * 8 + c)]) * p.y[size_t(r)]);
      }
      tile_steps.push_back(p);
    }
    const std::vector<Products> b = bundles(4, 8, tile_steps);
    bench.stimulus.insert(bench.stimulus.end(), b.begin(), b.end());
    std::vector<int64_t> sums(32);
    for (size_t i = 0; i < 32; ++i) sums[i] = int64_t(model.acc[i]);
    expected.push_back(sums);
    std::fill(model.acc.begin(), model.acc.end(), 0);
    std::fill(model.exact.begin(), model.exact.end(), 0);
  }
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), expected.size());
  for (size_t t = 0; t < expected.size(); ++t) EXPECT_EQ(bench.seen[t].second.sum, expected[t]) << "tile " << t;
  EXPECT_GT(model.overflows, 0u) << "the stimulus must overflow";
  EXPECT_EQ(stats.acc_overflow, model.overflows);
  EXPECT_EQ(bench.dut->width_needed(), model.width);
}

TEST(LocalAccumulator, RandomTilesSaturate8) { random_tiles(8, Overflow::saturate, 1); }
TEST(LocalAccumulator, RandomTilesWrap8) { random_tiles(8, Overflow::wrap, 2); }
TEST(LocalAccumulator, RandomTilesSaturate33) { random_tiles(33, Overflow::saturate, 3); }
TEST(LocalAccumulator, RandomTilesWrap33) { random_tiles(33, Overflow::wrap, 4); }
TEST(LocalAccumulator, RandomTilesSaturate62) { random_tiles(62, Overflow::saturate, 5); }
TEST(LocalAccumulator, RandomTilesWrap62) { random_tiles(62, Overflow::wrap, 6); }
TEST(LocalAccumulator, RandomTilesSaturate8Narrow) { random_tiles(8, Overflow::saturate, 7, true); }
TEST(LocalAccumulator, RandomTilesWrap8Narrow) { random_tiles(8, Overflow::wrap, 8, true); }
TEST(LocalAccumulator, RandomTilesSaturate31Narrow) { random_tiles(31, Overflow::saturate, 9, true); }
TEST(LocalAccumulator, RandomTilesWrap31Narrow) { random_tiles(31, Overflow::wrap, 10, true); }
TEST(LocalAccumulator, RandomTilesSaturate32NarrowWidened) { random_tiles(32, Overflow::saturate, 11, true); }
TEST(LocalAccumulator, RandomTilesSaturate8Dense) { random_tiles(8, Overflow::saturate, 12, false, true); }
TEST(LocalAccumulator, RandomTilesWrap33Dense) { random_tiles(33, Overflow::wrap, 13, false, true); }
TEST(LocalAccumulator, RandomTilesSaturate8NarrowDense) { random_tiles(8, Overflow::saturate, 14, true, true); }
TEST(LocalAccumulator, RandomTilesWrap31NarrowDense) { random_tiles(31, Overflow::wrap, 15, true, true); }

}  // namespace
}  // namespace mls::hw
