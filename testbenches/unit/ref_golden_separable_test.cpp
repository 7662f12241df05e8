// The golden model gathers a conv's Y rows from their separable parts
// (LoweredPass::y_parts: k tap offsets, a base and a step per row) straight
// into its packed pairs, instead of reading g x k index tables. Two checks:
//  - the parts describe the same rows as y_row, index for index and group
//    for group, for every conv lowering that sets them (forward, both
//    backward-data mappings, backward-weight; strides, padding, dilation,
//    groups);
//  - useful_macs(), which counts Y's real slots from the parts, equals the
//    products of two real elements enumerated over y_row's indices, and the
//    count of the same pass with its parts cleared (the general walk);
//  - golden_pass on those passes gives the bits and overflow counts of
//    golden_pass_sequential (the plain walk, which reads y_row's tables),
//    for odd and even chunks, narrow (16-bit) and wide accumulators, and Y
//    slices down to one p, and so does the same pass with its parts cleared;
//    also with group exponents far from 0 (X's up by 440, Y's down), where
//    the exact double scaling does not apply and the lanes take lane_nest.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ref/golden/golden_conv.h"
#include "ref/mapping/mapping.h"
#include "ref/workload/bwd_data_decompose.h"
#include "ref/workload/conv2d.h"

namespace {

using mls::ConvParams;
using mls::GroupLayout;
using mls::LoweredPass;
using mls::Pass;
using mls::QuantTensor;

struct Geo {
  int64_t n, ci, co, h, w, k;
  ConvParams prm;
};

std::vector<Geo> geometries() {
  std::vector<Geo> out;
  auto prm = [](int s, int p, int d, int g) {
    ConvParams c;
    c.stride_h = c.stride_w = s;
    c.pad_h = c.pad_w = p;
    c.dil_h = c.dil_w = d;
    c.groups = g;
    return c;
  };
  out.push_back({2, 3, 16, 7, 7, 3, prm(1, 1, 1, 1)});
  out.push_back({2, 3, 20, 9, 8, 3, prm(2, 1, 1, 1)});   // stride 2: zero insertion, decompose
  out.push_back({1, 4, 18, 11, 11, 7, prm(2, 3, 1, 1)});  // conv1-like
  out.push_back({2, 6, 8, 7, 7, 3, prm(1, 2, 2, 2)});     // dilation 2, two groups
  out.push_back({3, 5, 5, 6, 5, 1, prm(1, 0, 1, 1)});     // 1 x 1
  return out;
}

// Random magnitudes within e2m4's |q| <= 124, about a third zero, and a few
// group scales: the int16 lanes' operands.
QuantTensor operand(const mls::Shape& shape, std::mt19937_64& gen) {
  QuantTensor t;
  t.shape = shape;
  t.layout = GroupLayout(shape, mls::Grouping::nc);
  t.s_t = 1.0f;
  std::uniform_int_distribution<int32_t> val(-124, 124);
  for (int64_t i = 0; i < mls::numel(shape); ++i) t.sq.push_back(gen() % 3 == 0 ? 0 : val(gen));
  for (int64_t g = 0; g < t.layout.groups(); ++g) {
    mls::GroupScale s;
    s.exp = int16_t(int(gen() % 21) - 10);
    s.man = uint8_t(gen() % 2);
    t.sg.push_back(s);
  }
  t.scale.m = 1;
  return t;
}

struct Lowered {
  std::string what;
  LoweredPass lp;
  const QuantTensor *x, *y;
};

// Every lowering of one geometry that has parts: each pass's blocks, and
// the decomposed backward-data blocks where the stride allows.
std::vector<Lowered> lowerings(const Geo& g, const QuantTensor& w, const QuantTensor& a, const QuantTensor& e) {
  mls::Conv2d conv(g.prm);
  conv.bind(w.shape, a.shape, &e.shape);
  std::vector<Lowered> out;
  for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) {
    const QuantTensor& x = pass == Pass::bwd_weight ? e : w;
    const QuantTensor& y = pass == Pass::bwd_data ? e : a;
    for (int64_t b = 0; b < conv.blocks(pass); ++b)
      out.push_back({mls::to_string(pass) + " block " + std::to_string(b), conv.lower(pass, b, x.layout, y.layout), &x, &y});
  }
  if (mls::decomposes(conv))
    for (int64_t b = 0; b < mls::decomposed_blocks(conv); ++b)
      out.push_back({"decomposed bwd-data block " + std::to_string(b),
                     mls::lower_decomposed_bwd_data(conv, b, w.layout, e.layout), &w, &e});
  return out;
}

std::vector<Lowered> all_lowerings(std::vector<QuantTensor>& keep) {
  std::mt19937_64 gen(25);
  keep.reserve(3 * geometries().size());  // the Lowered entries point into it
  std::vector<Lowered> out;
  for (const Geo& g : geometries()) {
    const mls::ConvGeometry c = mls::conv_geometry({g.co, g.ci / g.prm.groups, g.k, g.k}, {g.n, g.ci, g.h, g.w}, g.prm);
    keep.push_back(operand({g.co, g.ci / g.prm.groups, g.k, g.k}, gen));
    keep.push_back(operand({g.n, g.ci, g.h, g.w}, gen));
    keep.push_back(operand({g.n, g.co, c.ho, c.wo}, gen));
    const size_t at = keep.size() - 3;
    for (Lowered& l : lowerings(g, keep[at], keep[at + 1], keep[at + 2])) out.push_back(std::move(l));
  }
  return out;
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(GoldenSeparable, PartsDescribeTheSameRowsAsTheIndexRows) {
  std::vector<QuantTensor> keep;
  int checked = 0;
  for (const Lowered& l : all_lowerings(keep)) {
    const LoweredPass& lp = l.lp;
    ASSERT_TRUE(bool(lp.y_parts)) << l.what;
    std::vector<int32_t> groups(size_t(lp.g)), index(size_t(lp.g * lp.k)), part_groups(size_t(lp.g)),
        offsets(size_t(lp.k));
    for (int64_t r = 0; r < lp.p; ++r) {
      lp.y_row(r, groups.data(), index.data());
      const mls::RowBase rb = lp.y_parts.offsets(r, offsets.data());
      lp.y_parts.groups(r, part_groups.data());
      ASSERT_EQ(groups, part_groups) << l.what << " row " << r;
      for (int64_t g = 0; g < lp.g; ++g)
        for (int64_t k = 0; k < lp.k; ++k) {
          const int64_t from_parts = offsets[size_t(k)] < 0 ? -1 : rb.base + g * rb.step + offsets[size_t(k)];
          ASSERT_EQ(index[size_t(g * lp.k + k)], from_parts) << l.what << " row " << r << " slot " << g << "," << k;
        }
    }
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(GoldenSeparable, UsefulMacsFromThePartsCountTheRealProducts) {
  std::vector<QuantTensor> keep;
  int with_padding = 0;
  for (const Lowered& l : all_lowerings(keep)) {
    const LoweredPass& lp = l.lp;
    const mls::RowTables yt = mls::y_tables(lp);
    const int64_t gk = lp.g * lp.k;
    int64_t real = 0;
    for (int64_t m = 0; m < lp.m; ++m)
      for (int64_t p = 0; p < lp.p; ++p)
        for (int64_t i = 0; i < gk; ++i)
          real += lp.x_index[size_t(m * gk + i)] >= 0 && yt.index[size_t(p * gk + i)] >= 0;
    ASSERT_TRUE(bool(lp.y_parts)) << l.what;
    EXPECT_EQ(lp.useful_macs(), real) << l.what;
    LoweredPass walked = lp;
    walked.y_parts = {};
    EXPECT_EQ(walked.useful_macs(), real) << l.what << " (general walk)";
    with_padding += real < lp.macs();
  }
  EXPECT_GT(with_padding, 10);  // zero taps were there to leave out
}

void expect_same_bits(const mls::GoldenResult& got, const mls::GoldenResult& want, const std::string& what) {
  ASSERT_EQ(got.acc_overflow, want.acc_overflow) << what;
  ASSERT_EQ(got.out.data.size(), want.out.data.size()) << what;
  for (size_t i = 0; i < want.out.data.size(); ++i)
    ASSERT_EQ(bits(got.out.data[i]), bits(want.out.data[i])) << what << " output " << i;
}

TEST(GoldenSeparable, GatheredRowsGiveTheSequentialBits) {
  std::vector<QuantTensor> keep;
  uint64_t overflows = 0;
  int odd_chunks = 0;
  for (const Lowered& l : all_lowerings(keep)) {
    LoweredPass indexed = l.lp;
    indexed.y_parts = {};
    for (int acc_bits : {16, 40})
      for (int chunk : {4, 9, 16}) {
        mls::ArrayConfig array;
        array.acc_bits = acc_bits;
        const mls::Mapping map(mls::Dataflow::baseline, 16, 16, chunk);
        const std::string what = l.what + " acc " + std::to_string(acc_bits) + " chunk " + std::to_string(chunk);
        const mls::GoldenResult seq = mls::golden_pass_sequential(l.lp, *l.x, *l.y, array, map);
        for (int64_t slice : {int64_t{1}, int64_t{37}, int64_t{1} << 16})
          expect_same_bits(mls::golden_pass(l.lp, *l.x, *l.y, array, map, slice), seq,
                           what + " slice " + std::to_string(slice));
        expect_same_bits(mls::golden_pass(indexed, *l.x, *l.y, array, map), seq, what + " (index rows)");
        overflows += seq.acc_overflow;
        odd_chunks += map.chunk_for(l.lp.k, l.lp.g) % 2;
      }
  }
  EXPECT_GT(overflows, 0u);  // the narrow accumulator's replays were reached
  EXPECT_GT(odd_chunks, 10);
}

TEST(GoldenSeparable, FarScalesGiveTheSequentialBits) {
  std::vector<QuantTensor> keep;
  std::vector<Lowered> all = all_lowerings(keep);
  // [w, a, e] per geometry: W up, A and E down, so every pass's scale
  // products stay near 1 (finite outputs) while each exponent is past 400.
  for (size_t i = 0; i < keep.size(); ++i)
    for (mls::GroupScale& s : keep[i].sg) s.exp = int16_t(s.exp + (i % 3 == 0 ? 440 : -440));
  uint64_t overflows = 0;
  for (const Lowered& l : all) {
    mls::ArrayConfig array;
    array.acc_bits = 16;
    const mls::Mapping map(mls::Dataflow::baseline, 16, 16, 9);
    const mls::GoldenResult seq = mls::golden_pass_sequential(l.lp, *l.x, *l.y, array, map);
    for (int64_t slice : {int64_t{1}, int64_t{1} << 16})
      expect_same_bits(mls::golden_pass(l.lp, *l.x, *l.y, array, map, slice), seq,
                       l.what + " far scales, slice " + std::to_string(slice));
    overflows += seq.acc_overflow;
  }
  EXPECT_GT(overflows, 0u);
}

}  // namespace
