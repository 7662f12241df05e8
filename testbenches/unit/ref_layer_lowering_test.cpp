// The lowering of every kind, pass and block against the kind's reference()
// (its textbook definition), with unquantized tensors: summing
// X[x_index] * Y[y_index] over the lowered (g, k) slots of each (m, p) and
// placing it at out_index must give reference() exactly up to double
// rounding. Also the MLS rule the datapath depends on: inside one (row, g)
// slice every element's group scale is the one the lowering names, so a
// chunk never needs a floating-point scale. And the product counts of
// docs/layers.md, from the shapes alone, and useful_macs() (from the
// separable parts where the rows separate) against the products of two real
// elements counted slot by slot.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "ref/core/error.h"
#include "ref/workload/layer_kind.h"

namespace {

using mls::Grouping;
using mls::Operand;
using mls::Pass;
using mls::Shape;
using mls::TensorF;
using nlohmann::json;

TensorF random_tensor(const Shape& shape, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  TensorF t(shape);
  for (float& v : t.data) v = dist(rng);
  return t;
}

struct Case {
  std::string label;
  json entry;  // kind and its keys
  Shape weight, input, grad_output;
  int64_t macs[3];  // fwd, bwd-data, bwd-weight, from the shapes
};

// The cases, each with its product counts written out from the shapes.
std::vector<Case> cases() {
  return {
      // conv2d [Co, Ci/G, Kh, Kw], [N, Ci, H, W]: N*Co*Ho*Wo*Ci/G*K, N*Ci*H*W*Co/G*K, Co*Ci/G*K*N*Ho*Wo
      {"conv_groups3_s2", {{"kind", "conv2d"}, {"stride", 2}, {"padding", 1}, {"groups", 3}},
       {6, 2, 3, 3}, {2, 6, 5, 5}, {2, 6, 3, 3},
       {2 * 6 * 9 * 2 * 9, 2 * 6 * 25 * 2 * 9, 6 * 2 * 9 * 2 * 9}},
      {"conv_depthwise_d2", {{"kind", "conv2d"}, {"padding", 2}, {"dilation", 2}, {"groups", 4}},
       {4, 1, 3, 3}, {1, 4, 6, 5}, {1, 4, 6, 5},
       {1 * 4 * 30 * 1 * 9, 1 * 4 * 30 * 1 * 9, 4 * 1 * 9 * 1 * 30}},
      // conv_transpose2d [Ci, Co/G, Kh, Kw]: Ho = (H-1)*S - 2P + D*(K-1) + op + 1
      {"convt_s2_op1_g2", {{"kind", "conv_transpose2d"}, {"stride", 2}, {"padding", 1}, {"output_padding", 1},
                           {"groups", 2}},
       {4, 3, 3, 3}, {2, 4, 3, 4}, {2, 6, 6, 8},
       {2 * 6 * 48 * 2 * 9, 2 * 4 * 12 * 3 * 9, 4 * 3 * 9 * 2 * 12}},
      {"convt_s3_dil2", {{"kind", "conv_transpose2d"}, {"stride", [] { return json::array({3, 1}); }()},
                         {"dilation", 2}},
       {2, 3, 2, 2}, {1, 2, 3, 3}, {1, 3, 9, 5},
       {1 * 3 * 45 * 2 * 4, 1 * 2 * 9 * 3 * 4, 2 * 3 * 4 * 1 * 9}},
      // linear [out, in], [..., in]: T*out*in for every pass
      {"linear_tokens", {{"kind", "linear"}}, {5, 7}, {2, 3, 7}, {2, 3, 5}, {6 * 35, 6 * 35, 6 * 35}},
      {"linear_rank1", {{"kind", "linear"}}, {3, 4}, {4}, {3}, {12, 12, 12}},
      // matmul [..., M, K] x [..., K, N]: B*M*K*N for every pass
      {"matmul_batched", {{"kind", "matmul"}}, {2, 3, 4, 5}, {2, 3, 6, 4}, {2, 3, 6, 5},
       {6 * 120, 6 * 120, 6 * 120}},
  };
}

std::unique_ptr<mls::LayerKind> make_kind(const Case& c) {
  auto kind = mls::find_layer_kind(c.entry["kind"], c.label).from_manifest(c.entry, c.label);
  kind->bind(c.weight, c.input, &c.grad_output);
  return kind;
}

const TensorF& operand(Operand o, const TensorF& w, const TensorF& a, const TensorF& e) {
  return o == Operand::weight ? w : o == Operand::input ? a : e;
}

// Every element of each (row, g) slice lies in the group the lowering names.
void expect_one_group_per_slice(const std::vector<int32_t>& index, const std::vector<int32_t>& group,
                                const mls::GroupLayout& layout, int64_t gk, int64_t k, const std::string& what) {
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0) continue;
    const size_t slice = i / size_t(k);
    ASSERT_EQ(layout.group_of(index[i]), group[slice]) << what << " slot " << i << " of " << gk;
  }
}

TEST(ref_layer_lowering, EveryKindPassAndBlockSumsToTheReference) {
  std::mt19937 rng(5);
  for (const Case& c : cases())
    for (Grouping grouping : {Grouping::nc, Grouping::n, Grouping::c, Grouping::tensor})
      for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) {
        SCOPED_TRACE(c.label + " " + mls::to_string(pass) + " grouping " + mls::to_string(grouping));
        const auto kind = make_kind(c);
        const TensorF w = random_tensor(c.weight, rng), a = random_tensor(c.input, rng),
                      e = random_tensor(c.grad_output, rng);
        const Operand xo = kind->x_operand(pass), yo = kind->y_operand(pass);
        const TensorF &x = operand(xo, w, a, e), &y = operand(yo, w, a, e);
        const mls::GroupLayout xl(kind->grouping_shape(xo, x.shape), grouping);
        const mls::GroupLayout yl(kind->grouping_shape(yo, y.shape), grouping);
        const std::vector<double> ref = kind->reference(pass, w, a, &e);
        std::vector<double> got(ref.size(), NAN);
        int64_t macs = 0, useful = 0;
        for (int64_t b = 0; b < kind->blocks(pass); ++b) {
          const mls::LoweredPass lp = kind->lower(pass, b, xl, yl);
          ASSERT_EQ(mls::numel(lp.out_shape), int64_t(ref.size()));
          macs += lp.macs();
          const mls::LayerKind::ProductSize size = kind->product_size(pass);  // the planning sizes
          EXPECT_EQ(size.m, lp.m);
          EXPECT_EQ(size.p, lp.p);
          EXPECT_EQ(size.r, lp.g * lp.k);
          const mls::RowTables yt = mls::y_tables(lp);
          expect_one_group_per_slice(lp.x_index, lp.x_group, xl, lp.g * lp.k, lp.k, "X");
          expect_one_group_per_slice(yt.index, yt.groups, yl, lp.g * lp.k, lp.k, "Y");
          int64_t block_useful = 0;  // products of two real elements, enumerated
          for (int64_t m = 0; m < lp.m; ++m)
            for (int64_t p = 0; p < lp.p; ++p) {
              double sum = 0;
              for (int64_t gk = 0; gk < lp.g * lp.k; ++gk) {
                const int32_t xi = lp.x_index[size_t(m * lp.g * lp.k + gk)];
                const int32_t yi = yt.index[size_t(p * lp.g * lp.k + gk)];
                if (xi >= 0 && yi >= 0) sum += double(x.data[size_t(xi)]) * y.data[size_t(yi)];
                block_useful += xi >= 0 && yi >= 0;
              }
              const size_t at = size_t(lp.out_index[size_t(m * lp.p + p)]);
              ASSERT_TRUE(std::isnan(got[at])) << "output " << at << " written twice";
              got[at] = sum;
            }
          EXPECT_EQ(lp.useful_macs(), block_useful) << "block " << b << (lp.y_parts ? " (separable)" : "");
          useful += block_useful;
        }
        EXPECT_EQ(macs, c.macs[int(pass)]);
        EXPECT_LE(useful, macs);
        for (size_t i = 0; i < ref.size(); ++i)
          ASSERT_NEAR(got[i], ref[i], 1e-9 * (1 + std::abs(ref[i]))) << "output " << i;
      }
}

TEST(ref_layer_lowering, MatrixKindsKeepWholeRowsInOneGroupWhenTheGroupingAllows) {
  // linear fwd reduces over `in`: with n (one scale per row) on W [out, in] and
  // on the tokens, the whole row is one group; with nc every element is its own.
  const Case c = cases()[4];
  const auto kind = make_kind(c);
  auto lower = [&](Grouping g) {
    return kind->lower(Pass::fwd, mls::GroupLayout(kind->grouping_shape(Operand::weight, c.weight), g),
                       mls::GroupLayout(kind->grouping_shape(Operand::input, c.input), g));
  };
  EXPECT_EQ(lower(Grouping::n).g, 1);
  EXPECT_EQ(lower(Grouping::n).k, 7);
  EXPECT_EQ(lower(Grouping::nc).g, 7);
  EXPECT_EQ(lower(Grouping::nc).k, 1);
  EXPECT_EQ(kind->grouping_shape(Operand::input, c.input), (Shape{6, 7}));
}

TEST(ref_layer_lowering, GeometryErrorsNameTheOperand) {
  auto bind = [](const json& entry, const Shape& w, const Shape& a, const Shape& e) {
    try {
      auto kind = mls::find_layer_kind(entry["kind"], "t").from_manifest(entry, "t");
      kind->bind(w, a, &e);
    } catch (const mls::Error& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  const json conv = {{"kind", "conv2d"}, {"groups", 4}};
  EXPECT_NE(bind(conv, {6, 2, 3, 3}, {1, 8, 5, 5}, {1, 6, 3, 3}).find("does not divide the weight's Co = 6"),
            std::string::npos);
  EXPECT_NE(bind(conv, {8, 3, 3, 3}, {1, 8, 5, 5}, {1, 8, 3, 3}).find("Ci/groups = 3 times groups = 4"),
            std::string::npos);
  EXPECT_NE(bind({{"kind", "linear"}}, {3, 4}, {2, 5}, {2, 3}).find("input's last dim 5"), std::string::npos);
  EXPECT_NE(bind({{"kind", "matmul"}}, {2, 4, 5}, {3, 6, 4}, {3, 6, 5}).find("batch dims"), std::string::npos);
  EXPECT_NE(bind({{"kind", "matmul"}}, {2, 4, 5}, {2, 6, 4}, {2, 6, 4}).find("grad_output shape [2, 6, 4] should be"),
            std::string::npos);
  const json convt = {{"kind", "conv_transpose2d"}, {"stride", 2}};
  EXPECT_NE(bind(convt, {4, 3, 3, 3}, {1, 4, 3, 3}, {1, 3, 6, 6}).find("should be [1, 3, 7, 7]"), std::string::npos);
  try {
    mls::find_layer_kind("conv_transpose2d", "t").from_manifest({{"stride", 2}, {"output_padding", 2}}, "t");
    ADD_FAILURE() << "output_padding >= stride accepted";
  } catch (const mls::Error& err) {
    EXPECT_NE(std::string(err.what()).find("must be below the stride"), std::string::npos);
  }
}

}  // namespace

// Y's rows are generated, never stored: a forward conv whose unrolled input
// has more slots than any int32-indexed table (p x g x k = 4.2 M x 64 x 9 =
// 2.4 G) lowers at once, storing only X (576 indices) and the outputs, and
// its first and last rows hold the taps the convolution's definition names,
// written out here: row p = (n, ho, wo), slot (g = ci, k = (kh, kw)) reads
// A[n, ci, ho - 1 + kh, wo - 1 + kw] (padding 1), -1 off the input.
TEST(ref_layer_lowering, YRowsPastAnyStoredTableAreGeneratedOnDemand) {
  const int64_t n = 16, c = 64, h = 512, w = 512;
  std::unique_ptr<mls::LayerKind> kind =
      mls::find_layer_kind("conv2d", "test").from_manifest(json{{"padding", 1}}, "test");
  const Shape weight{1, c, 3, 3}, input{n, c, h, w};
  kind->bind(weight, input, nullptr);
  const mls::LoweredPass lp = kind->lower(Pass::fwd, 0, mls::GroupLayout(weight, Grouping::nc),
                                          mls::GroupLayout(input, Grouping::nc));
  ASSERT_EQ(lp.p, n * h * w);
  ASSERT_GT(lp.p * lp.g * lp.k, mls::kMaxLoweredEntries);
  EXPECT_EQ(int64_t(lp.x_index.size()), c * 9);
  for (int64_t row : {int64_t{0}, lp.p - 1}) {
    const mls::RowTables t = mls::y_tables(lp, row, row + 1);
    const int64_t img = row / (h * w), ho = row / w % h, wo = row % w;
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t kh = 0; kh < 3; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw) {
          const int64_t y = ho - 1 + kh, x = wo - 1 + kw;
          const int64_t want = y < 0 || y >= h || x < 0 || x >= w ? -1 : ((img * c + ci) * h + y) * w + x;
          ASSERT_EQ(t.index[size_t(ci * 9 + kh * 3 + kw)], want) << "row " << row << " ci " << ci;
        }
  }
}
