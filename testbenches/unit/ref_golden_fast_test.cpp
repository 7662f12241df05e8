// golden_pass (the fast walk: operand planes, no per-addition range check
// where no partial sum can overflow, one double product for the scaling)
// against golden_pass_sequential (every addition through accumulate(), every
// scaling through scale_chunk) on random small lowered passes: every output
// bit and the overflow count must agree. The passes are built directly (random
// index tables with zero taps, random group tables), so they reach corners
// the layer kinds rarely do: operands beyond int16, 8-bit accumulators that
// saturate or wrap on most chunks, group exponents far out of float range,
// chunks longer than k, every dataflow, row filling.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ref/golden/golden_conv.h"

namespace {

using mls::ArrayConfig;
using mls::GroupScale;
using mls::LoweredPass;
using mls::Mapping;
using mls::Overflow;
using mls::QuantTensor;

struct Case {
  LoweredPass lp;
  QuantTensor x, y;
  ArrayConfig array;
  Mapping map;
};

// An operand of `elements` values |sq| <= max_q (a few at exactly +-max_q)
// and `groups` random group scales; `far` puts some exponents far out of
// float range.
QuantTensor make_operand(std::mt19937_64& gen, int64_t elements, int64_t groups, int64_t max_q, bool far) {
  QuantTensor t;
  t.shape = {elements};
  t.scale.m = int(gen() % 4);
  t.s_t = std::ldexp(1.0f + float(gen() % 64) / 64.0f, int(gen() % 9) - 4);
  std::uniform_int_distribution<int64_t> val(-max_q, max_q);
  const bool sparse = gen() % 2;  // ReLU-like: half the values zero
  for (int64_t i = 0; i < elements; ++i) {
    int64_t v = val(gen);
    if (sparse && gen() % 2) v = 0;
    if (gen() % 16 == 0) v = gen() % 2 ? max_q : -max_q;
    t.sq.push_back(int32_t(v));
  }
  for (int64_t i = 0; i < groups; ++i) {
    GroupScale s;
    s.exp = int16_t(far && gen() % 4 == 0 ? int(gen() % 1200) - 600 : int(gen() % 41) - 20);
    s.man = uint8_t(gen() % (uint64_t{1} << t.scale.m));
    t.sg.push_back(s);
  }
  return t;
}

void fill_tables(std::mt19937_64& gen, int64_t rows, const LoweredPass& lp, const QuantTensor& t,
                 std::vector<int32_t>& index, std::vector<int32_t>& group) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < lp.g; ++g) {
      group.push_back(int32_t(gen() % t.sg.size()));
      for (int64_t k = 0; k < lp.k; ++k)
        index.push_back(gen() % 5 == 0 ? -1 : int32_t(gen() % t.sq.size()));
    }
}

Case make_case(uint64_t seed) {
  std::mt19937_64 gen(seed);
  Case c;
  LoweredPass& lp = c.lp;
  lp.m = 1 + int64_t(gen() % 20), lp.p = 1 + int64_t(gen() % 12), lp.g = 1 + int64_t(gen() % 4);
  lp.k = 1 + int64_t(gen() % 40);
  lp.out_shape = {lp.m * lp.p};
  for (int64_t i = 0; i < lp.m * lp.p; ++i) lp.out_index.push_back(i);
  // Operand magnitudes: e2m4-like, up to int16, beyond int16 (an E4 format's q_bits).
  const int64_t ranges[] = {7, 124, 2000, 32767, 40000, int64_t{1} << 27};
  const bool far = gen() % 4 == 0;
  c.x = make_operand(gen, 1 + int64_t(gen() % 200), 1 + int64_t(gen() % 6), ranges[gen() % 6], far);
  c.y = make_operand(gen, 1 + int64_t(gen() % 200), 1 + int64_t(gen() % 6), ranges[gen() % 6], far);
  fill_tables(gen, lp.m, lp, c.x, lp.x_index, lp.x_group);
  mls::RowTables yt;
  fill_tables(gen, lp.p, lp, c.y, yt.index, yt.groups);
  lp.y_row = mls::table_rows(std::move(yt), lp.g, lp.k);
  const int acc_bits[] = {8, 12, 16, 20, 24, 31, 32, 40, 48, 62};
  c.array.acc_bits = acc_bits[gen() % 10];
  c.array.acc_overflow = gen() % 2 ? Overflow::saturate : Overflow::wrap;
  const mls::Dataflow flows[] = {mls::Dataflow::baseline, mls::Dataflow::weight_stationary,
                                 mls::Dataflow::output_stationary};
  // Chunks past k, and now and then past 2^8 (with |q| near 2^27 the bound
  // chunk * max|x| * max|y| then passes 2^62).
  const int chunk = gen() % 8 == 0 ? 300 + int(gen() % 2000) : 1 + int(gen() % 48);
  c.map = Mapping(flows[gen() % 3], 1 + int(gen() % 20), 1 + int(gen() % 20), chunk);
  if (gen() % 4 == 0) c.map = c.map.fill_rows();
  return c;
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(GoldenFast, BitIdenticalToSequentialOnRandomPasses) {
  int with_overflow = 0, without = 0, int16_range = 0, beyond = 0;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    const Case c = make_case(seed);
    const mls::GoldenResult fast = mls::golden_pass(c.lp, c.x, c.y, c.array, c.map);
    const mls::GoldenResult seq = mls::golden_pass_sequential(c.lp, c.x, c.y, c.array, c.map);
    ASSERT_EQ(fast.acc_overflow, seq.acc_overflow) << "seed " << seed;
    ASSERT_EQ(fast.out.data.size(), seq.out.data.size());
    for (size_t i = 0; i < seq.out.data.size(); ++i)
      ASSERT_EQ(bits(fast.out.data[i]), bits(seq.out.data[i]))
          << "seed " << seed << " output " << i << ": " << fast.out.data[i] << " vs " << seq.out.data[i];
    (seq.acc_overflow ? with_overflow : without)++;
    int64_t mx = 0;
    for (int32_t v : c.x.sq) mx = std::max<int64_t>(mx, std::abs(int64_t(v)));
    (mx <= 32767 ? int16_range : beyond)++;
  }
  // Both regimes of the accumulator and both operand widths were reached.
  EXPECT_GT(with_overflow, 300);
  EXPECT_GT(without, 300);
  EXPECT_GT(int16_range, 300);
  EXPECT_GT(beyond, 300);
}

// The lanes fill their Y planes a slice of p at a time (bounded memory):
// every slice size, down to one word (one p per slice), gives the same bits
// and overflow count as the plain walk.
TEST(GoldenFast, EverySliceOfPGivesTheSameBits) {
  int multi_slice = 0;
  for (uint64_t seed = 1; seed <= 600; ++seed) {
    const Case c = make_case(seed);
    const mls::GoldenResult seq = mls::golden_pass_sequential(c.lp, c.x, c.y, c.array, c.map);
    const int64_t words = c.lp.g * c.lp.k;  // an upper bound on one p's Y plane words
    for (int64_t slice : {int64_t{1}, words / 2 + 1, 2 * words + 1}) {
      const mls::GoldenResult fast = mls::golden_pass(c.lp, c.x, c.y, c.array, c.map, slice);
      ASSERT_EQ(fast.acc_overflow, seq.acc_overflow) << "seed " << seed << " slice " << slice;
      for (size_t i = 0; i < seq.out.data.size(); ++i)
        ASSERT_EQ(bits(fast.out.data[i]), bits(seq.out.data[i])) << "seed " << seed << " slice " << slice;
      multi_slice += c.lp.p > 2 && slice < words;
    }
  }
  EXPECT_GT(multi_slice, 300);
}

// The ResNet-like regime the fast path is for: 16-bit accumulator, e2m4
// magnitudes (|q| <= 124), chunks of 9 and 16, where some chunks overflow and
// most do not; both walks must still agree on every bit and count.
TEST(GoldenFast, NarrowAccumulatorMixedChunks) {
  uint64_t overflows = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Case c = make_case(seed * 7919);
    std::mt19937_64 gen(seed);
    for (int32_t& v : c.x.sq) v = int32_t(v % 125);
    for (int32_t& v : c.y.sq) v = int32_t(v % 125);
    c.array.acc_bits = 16;
    c.map = Mapping(mls::Dataflow::baseline, 16, 16, seed % 2 ? 9 : 16);
    const mls::GoldenResult fast = mls::golden_pass(c.lp, c.x, c.y, c.array, c.map);
    const mls::GoldenResult seq = mls::golden_pass_sequential(c.lp, c.x, c.y, c.array, c.map);
    ASSERT_EQ(fast.acc_overflow, seq.acc_overflow) << "seed " << seed;
    for (size_t i = 0; i < seq.out.data.size(); ++i)
      ASSERT_EQ(bits(fast.out.data[i]), bits(seq.out.data[i])) << "seed " << seed << " output " << i;
    overflows += seq.acc_overflow;
  }
  EXPECT_GT(overflows, 0u);
}

// The range check's edges: with an 8-bit accumulator ([-128, 127]) a chunk
// whose positive products reach exactly 127 (or negative ones -128) has no
// overflow, one more has one; both walks must count it, and give one result.
// Mixed signs reach the lanes' test on the positive and negative sums.
TEST(GoldenFast, RangeEdgesOfTheLocalAccumulator) {
  struct Edge {
    std::vector<int32_t> x;
    uint64_t saturate, wrap;  // overflows by hand: the partial sums x0, x0 + x1
  };
  const Edge edges[] = {{{127, 0}, 0, 0}, {{127, 1}, 1, 1}, {{-128, 0}, 0, 0}, {{-128, -1}, 1, 1},
                        {{100, 27}, 0, 0}, {{100, 28}, 1, 1}, {{-100, -28}, 0, 0}, {{-100, -29}, 1, 1},
                        // mixed signs: sum |x| past the range, every partial sum inside or not
                        {{127, -1}, 0, 0}, {{-128, 1}, 0, 0}, {{-1, 127}, 0, 0}, {{1, 127}, 1, 1},
                        // -129 saturates to -128 (then -127), or wraps to 127 (then 128 wraps again)
                        {{-129, 1}, 1, 2}, {{128, -1}, 1, 2}};
  for (const Edge& e : edges)
    for (Overflow policy : {Overflow::saturate, Overflow::wrap}) {
      Case c;
      c.lp.m = c.lp.p = c.lp.g = 1, c.lp.k = 2;
      c.lp.out_shape = {1}, c.lp.out_index = {0};
      c.lp.x_index = {0, 1}, c.lp.x_group = {0};
      c.lp.y_row = mls::table_rows({{0}, {0, 1}}, 1, 2);
      c.x.sq = e.x, c.y.sq = {1, 1};
      c.x.sg = c.y.sg = {GroupScale{}};
      c.x.s_t = c.y.s_t = 1.0f;
      c.array.acc_bits = 8, c.array.acc_overflow = policy;
      c.map = Mapping(mls::Dataflow::baseline, 1, 1, 2);
      const mls::GoldenResult fast = mls::golden_pass(c.lp, c.x, c.y, c.array, c.map);
      const mls::GoldenResult seq = mls::golden_pass_sequential(c.lp, c.x, c.y, c.array, c.map);
      const uint64_t expected = policy == Overflow::saturate ? e.saturate : e.wrap;
      EXPECT_EQ(fast.acc_overflow, expected) << e.x[0] << ", " << e.x[1];
      EXPECT_EQ(seq.acc_overflow, expected) << e.x[0] << ", " << e.x[1];
      EXPECT_EQ(bits(fast.out.data[0]), bits(seq.out.data[0])) << e.x[0] << ", " << e.x[1];
    }
}

}  // namespace
