// Block groupings kB (docs/formats.md#block-groupings): the block layout's
// group index against a formula written here from multi-indices; parsing and
// the refused mixes; and every kind's blocked lowering, fed each pass's
// dequantized operands (quantized along that pass's block axes), against the
// kind's reference() of the same dequantized tensors in double, and the golden
// arithmetic against that exact sum within an fp32 rounding bound.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"
#include "ref/workload/bwd_data_decompose.h"
#include "ref/workload/conv2d.h"
#include "ref/workload/layer_kind.h"

namespace {

using mls::BlockAxis;
using mls::Grouping;
using mls::GroupLayout;
using mls::Operand;
using mls::Pass;
using mls::QuantConfig;
using mls::QuantTensor;
using mls::Shape;
using mls::TensorF;
using nlohmann::json;

// The group of flat index i: its multi-index with the axis index i_d replaced
// by its block (i_d / seg) * ceil(seg / B) + (i_d % seg) / B, raveled over
// the shape with that dim holding the block count.
int64_t expected_group(const Shape& shape, int dim, int64_t seg, int b, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  const int64_t per_seg = (seg + b - 1) / b;
  Shape gshape = shape;
  gshape[size_t(dim)] = shape[size_t(dim)] / seg * per_seg;
  idx[size_t(dim)] = idx[size_t(dim)] / seg * per_seg + idx[size_t(dim)] % seg / b;
  int64_t g = 0;
  for (size_t d = 0; d < shape.size(); ++d) g = g * gshape[d] + idx[d];
  return g;
}

TEST(ref_block_grouping, LayoutGroupsFollowTheMultiIndexFormula) {
  struct LayoutCase {
    Shape shape;
    int dim;
    int64_t seg;  // 0: the whole dim
  };
  const LayoutCase cases[] = {{{7}, 0, 0},           {{5, 37}, 1, 0},      {{5, 37}, 0, 0},
                              {{3, 37, 2, 3}, 1, 0}, {{3, 37, 2, 3}, 3, 0}, {{3, 37, 2, 3}, 0, 0},
                              {{3, 12, 2}, 1, 4},    {{3, 12, 2}, 1, 6},    {{40, 2}, 0, 20}};
  for (const LayoutCase& c : cases)
    for (int b : {2, 3, 16, 32}) {
      SCOPED_TRACE(mls::shape_str(c.shape) + " dim " + std::to_string(c.dim) + " seg " + std::to_string(c.seg) +
                   " k" + std::to_string(b));
      const GroupLayout l(c.shape, Grouping::blocks(b), BlockAxis{c.dim, c.seg});
      const int64_t seg = c.seg ? c.seg : c.shape[size_t(c.dim)];
      EXPECT_EQ(l.groups(), mls::numel(l.group_shape()));
      std::vector<int> seen(size_t(l.groups()), 0);
      for (int64_t i = 0; i < mls::numel(c.shape); ++i) {
        ASSERT_EQ(l.group_of(i), expected_group(c.shape, c.dim, seg, b, i)) << "flat " << i;
        ++seen[size_t(l.group_of(i))];
      }
      for (int n : seen) EXPECT_TRUE(n >= 1 && n <= b) << "a block of " << n << " elements";
    }
  EXPECT_THROW(GroupLayout({4, 6}, Grouping::blocks(2), BlockAxis{2, 0}), mls::Error);
  EXPECT_THROW(GroupLayout({4, 6}, Grouping::blocks(2), BlockAxis{1, 4}), mls::Error);
}

TEST(ref_block_grouping, ParsesKbAndRefusesUselessBlockSizes) {
  EXPECT_EQ(mls::parse_grouping("k16"), Grouping::blocks(16));
  EXPECT_EQ(mls::to_string(mls::parse_grouping("k32")), "k32");
  EXPECT_EQ(mls::parse_grouping("nc"), Grouping::nc);
  EXPECT_EQ(mls::to_string(Grouping::tensor), "tensor");
  for (const char* bad : {"k0", "k1", "k1025", "k", "kx", "k16x", "k-2", "K16", "k99999999999"})
    EXPECT_THROW(mls::parse_grouping(bad), mls::Error) << bad;
  try {
    mls::parse_grouping("k1");
    FAIL();
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 1024]"), std::string::npos) << e.what();
  }
}

TEST(ref_block_grouping, ABlockGroupingNeedsTheSameKbOnEveryOperand) {
  mls::PerOperand<QuantConfig> q = mls::PerOperand<QuantConfig>::all(QuantConfig{});
  EXPECT_NO_THROW(mls::check_block_groupings(q));
  q.for_each([](QuantConfig& c) { c.group = Grouping::blocks(16); });
  EXPECT_NO_THROW(mls::check_block_groupings(q));
  q.input.group = Grouping::blocks(32);
  EXPECT_THROW(mls::check_block_groupings(q), mls::ConfigError);
  q.input.group = Grouping::nc;
  try {
    mls::check_block_groupings(q);
    FAIL();
  } catch (const mls::ConfigError& e) {
    EXPECT_EQ(e.param, "group_a");
  }
}

// ---- the blocked lowering of every kind -------------------------------------

TensorF random_tensor(const Shape& shape, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  std::uniform_int_distribution<int> gain(0, 8);
  TensorF t(shape);
  for (float& v : t.data) v = std::ldexp(dist(rng), -gain(rng));  // magnitudes that differ from block to block
  return t;
}

struct Case {
  std::string label;
  json entry;
  Shape weight, input, grad_output;
};

std::vector<Case> cases() {
  return {
      {"conv_ci5_p1", {{"kind", "conv2d"}, {"padding", 1}}, {4, 5, 3, 3}, {3, 5, 4, 4}, {3, 4, 4, 4}},
      {"conv_s2_groups2", {{"kind", "conv2d"}, {"stride", 2}, {"padding", 1}, {"groups", 2}},
       {6, 3, 3, 3}, {5, 6, 5, 5}, {5, 6, 3, 3}},
      {"conv_depthwise", {{"kind", "conv2d"}, {"padding", 1}, {"groups", 3}}, {3, 1, 3, 3}, {2, 3, 4, 4},
       {2, 3, 4, 4}},
      {"convt_s2_g2", {{"kind", "conv_transpose2d"}, {"stride", 2}, {"padding", 1}, {"output_padding", 1},
                       {"groups", 2}},
       {6, 3, 3, 3}, {3, 6, 3, 4}, {3, 6, 6, 8}},
      {"linear_tokens", {{"kind", "linear"}}, {5, 7}, {2, 3, 7}, {2, 3, 5}},
      {"matmul_batched", {{"kind", "matmul"}}, {2, 7, 5}, {2, 3, 7}, {2, 3, 5}},
  };
}

// Quantized in the kind's grouping shape along `axis`, as sim/run/layer.cpp
// does, and given back its natural shape.
QuantTensor quantize_for(const mls::LayerKind& kind, Operand o, const TensorF& t, const QuantConfig& qc,
                         const BlockAxis& axis) {
  TensorF view;
  view.shape = kind.grouping_shape(o, t.shape);
  view.data = t.data;
  QuantTensor q = mls::quantize(view, "t." + mls::to_string(o), qc, axis);
  q.shape = t.shape;
  return q;
}

void expect_one_group_per_slice(const std::vector<int32_t>& index, const std::vector<int32_t>& group,
                                const GroupLayout& layout, int64_t k, const std::string& what) {
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0) continue;
    ASSERT_EQ(layout.group_of(index[i]), group[i / size_t(k)]) << what << " slot " << i;
  }
}

// One lowered block: the exact sum of dequantized products per output into
// `got`, and the golden fp32 result within its rounding bound of it.
void check_block(const mls::LoweredPass& lp, const QuantTensor& xq, const QuantTensor& yq, const TensorF& xd,
                 const TensorF& yd, int b, std::vector<double>& got) {
  ASSERT_LE(lp.k, b);
  const mls::RowTables yt = mls::y_tables(lp);
  expect_one_group_per_slice(lp.x_index, lp.x_group, xq.layout, lp.k, "X");
  expect_one_group_per_slice(yt.index, yt.groups, yq.layout, lp.k, "Y");
  mls::ArrayConfig array;
  array.rows = 4, array.cols = 3, array.chunk = 5, array.acc_bits = 40;
  mls::LoweredPass compact = lp;
  compact.out_shape = {lp.m * lp.p};
  compact.out_index.clear();  // Out[m, p] at m * p + p
  const mls::GoldenResult golden = mls::golden_pass(compact, xq, yq, array);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) {
      double sum = 0, abs_sum = 0;
      for (int64_t gk = 0; gk < lp.g * lp.k; ++gk) {
        const int32_t xi = lp.x_index[size_t(m * lp.g * lp.k + gk)];
        const int32_t yi = yt.index[size_t(p * lp.g * lp.k + gk)];
        if (xi < 0 || yi < 0) continue;
        const double t = double(xd.data[size_t(xi)]) * yd.data[size_t(yi)];
        sum += t;
        abs_sum += std::fabs(t);
      }
      const size_t at = size_t(lp.out_index[size_t(m * lp.p + p)]);
      ASSERT_TRUE(std::isnan(got[at])) << "output " << at << " written twice";
      got[at] = sum;
      // Chunk scaling, tree, output accumulation and the final scale: each
      // rounds once per level; 64 unit roundoffs of sum |terms| bound them here.
      const double g = golden.out.data[size_t(m * lp.p + p)];
      ASSERT_LE(std::fabs(g - sum), 64 * 0x1p-24 * abs_sum + 1e-30) << "golden output " << at;
    }
}

TEST(ref_block_grouping, EveryKindPassAndBlockSumsTheDequantizedOperandsToTheReference) {
  std::mt19937 rng(11);
  for (const Case& c : cases())
    for (int b : {2, 3, 16})
      for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
        for (bool decompose : {false, true}) {
          SCOPED_TRACE(c.label + " " + mls::to_string(pass) + " k" + std::to_string(b) +
                       (decompose ? " decomposed" : ""));
          auto kind = mls::find_layer_kind(c.entry["kind"], c.label).from_manifest(c.entry, c.label);
          kind->bind(c.weight, c.input, &c.grad_output);
          const bool decomposed = decompose && pass == Pass::bwd_data && mls::decomposes(*kind);
          if (decompose && !decomposed) continue;
          const TensorF w = random_tensor(c.weight, rng), a = random_tensor(c.input, rng),
                        e = random_tensor(c.grad_output, rng);
          QuantConfig qc;
          qc.group = Grouping::blocks(b);
          qc.rounding = mls::Rounding::nearest;
          const Operand xo = kind->x_operand(pass), yo = kind->y_operand(pass);
          const auto tensor = [&](Operand o) -> const TensorF& {
            return o == Operand::weight ? w : o == Operand::input ? a : e;
          };
          const QuantTensor xq = quantize_for(*kind, xo, tensor(xo), qc, kind->block_axis(pass, true));
          const QuantTensor yq = quantize_for(*kind, yo, tensor(yo), qc, kind->block_axis(pass, false));
          const TensorF xd = mls::dequantize(xq), yd = mls::dequantize(yq);
          // The reference of the dequantized X and Y (the third tensor unused).
          const auto deq = [&](Operand o) -> const TensorF& { return o == xo ? xd : o == yo ? yd : tensor(o); };
          const std::vector<double> ref =
              kind->reference(pass, deq(Operand::weight), deq(Operand::input), &deq(Operand::grad_output));
          std::vector<double> got(ref.size(), NAN);
          const auto& conv = dynamic_cast<const mls::Conv2d*>(kind.get());
          const int64_t blocks = decomposed ? mls::decomposed_blocks(*conv) : kind->blocks(pass);
          for (int64_t blk = 0; blk < blocks; ++blk) {
            const mls::LoweredPass lp = decomposed ? mls::lower_decomposed_bwd_data(*conv, blk, xq.layout, yq.layout)
                                                   : kind->lower(pass, blk, xq.layout, yq.layout);
            check_block(lp, xq, yq, xd, yd, b, got);
            if (HasFatalFailure()) return;
          }
          for (size_t i = 0; i < ref.size(); ++i)
            ASSERT_NEAR(got[i], ref[i], 1e-12 * (1 + std::abs(ref[i]))) << "output " << i;
        }
}

TEST(ref_block_grouping, ABlockedPassRefusesYWithAnotherGrouping) {
  mls::Conv2d conv;
  conv.bind({4, 5, 3, 3}, {2, 5, 4, 4}, nullptr);
  const GroupLayout xl({4, 5, 3, 3}, Grouping::blocks(4), conv.block_axis(Pass::fwd, true));
  EXPECT_THROW(conv.lower(Pass::fwd, xl, GroupLayout({2, 5, 4, 4}, Grouping::nc)), mls::Error);
  EXPECT_THROW(conv.lower(Pass::fwd, xl, GroupLayout({2, 5, 4, 4}, Grouping::blocks(2), BlockAxis{1, 0})),
               mls::Error);
  const mls::LoweredPass lp =
      conv.lower(Pass::fwd, xl, GroupLayout({2, 5, 4, 4}, Grouping::blocks(4), conv.block_axis(Pass::fwd, false)));
  // ci' = 5 in blocks of 4 (one remainder block of 1) times 9 taps.
  EXPECT_EQ(lp.k, 4);
  EXPECT_EQ(lp.g, 2 * 9);
  EXPECT_EQ(lp.useful_macs(), 4 * (2 * 2 * 2) * 5 * 9);
}

}  // namespace
