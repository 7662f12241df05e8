// The decomposed backward-data lowering (ref/workload/bwd_data_decompose.h)
// against the zero-insert lowering of conv2d.cpp, by exhaustive enumeration:
// every output is in exactly one block, the non-zero products of each output
// (X element, Y element, group scales) are the same multiset, no block
// streams a zero-insertion tap, and the products number the forward pass's
// when every phase has taps.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "ref/workload/bwd_data_decompose.h"
#include "ref/workload/conv2d.h"

namespace {

using mls::ConvParams;
using mls::Grouping;
using mls::GroupLayout;
using mls::LoweredPass;
using mls::Pass;
using Product = std::tuple<int32_t, int32_t, int32_t, int32_t>;  // x element, y element, x scale, y scale

// output flat index -> its non-zero products.
void collect(const LoweredPass& lp, std::map<int64_t, std::vector<Product>>& out, uint64_t& zero_taps) {
  const mls::RowTables yt = mls::y_tables(lp);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) {
      std::vector<Product>& v = out[lp.out_index[size_t(m * lp.p + p)]];
      for (int64_t g = 0; g < lp.g; ++g)
        for (int64_t k = 0; k < lp.k; ++k) {
          const int32_t xi = lp.x_index[size_t((m * lp.g + g) * lp.k + k)];
          const int32_t yi = yt.index[size_t((p * lp.g + g) * lp.k + k)];
          if (xi < 0 || yi < 0) {
            ++zero_taps;
            continue;
          }
          v.push_back({xi, yi, lp.x_group[size_t(m * lp.g + g)], yt.groups[size_t(p * lp.g + g)]});
        }
    }
}

struct Case {
  mls::Shape w, a;
  ConvParams prm;
  // Every phase has taps and the forward pass's padding taps match the
  // backward E-padding taps one for one (as on the bundled ResNet's layers).
  bool same_products_as_fwd;
};

TEST(ref_bwd_data_decompose, SameProductsAsZeroInsertionWithoutItsZeroTaps) {
  const Case cases[] = {
      {{4, 3, 3, 3}, {2, 3, 8, 8}, {2, 2, 1, 1, 1, 1, 1}, true},     // ResNet's stride-2 3x3
      {{4, 3, 3, 3}, {1, 3, 7, 9}, {2, 2, 1, 1, 1, 1, 1}, false},    // odd sizes: fwd pads differ
      {{6, 2, 4, 4}, {1, 2, 16, 16}, {4, 4, 0, 0, 1, 1, 1}, true},   // a patch embedding: one tap per phase
      {{4, 2, 3, 2}, {2, 4, 9, 7}, {3, 2, 1, 0, 2, 1, 2}, false},    // dilation, groups, mixed strides
      {{2, 3, 1, 1}, {1, 3, 6, 6}, {2, 2, 0, 0, 1, 1, 1}, false},    // a 1x1 downsample: phases without taps
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.a) + " stride " + std::to_string(c.prm.stride_h));
    mls::Conv2d conv(c.prm);
    const mls::ConvGeometry geo = mls::conv_geometry(c.w, c.a, c.prm);
    const mls::Shape e = {geo.n, geo.co, geo.ho, geo.wo};
    conv.bind(c.w, c.a, &e);
    ASSERT_TRUE(mls::decomposes(conv));
    const GroupLayout xl(c.w, Grouping::nc), yl(e, Grouping::nc);
    std::map<int64_t, std::vector<Product>> want, got;
    uint64_t want_zero = 0, got_zero = 0, got_products = 0, fwd_products = 0;
    for (int64_t b = 0; b < conv.blocks(Pass::bwd_data); ++b)
      collect(conv.lower(Pass::bwd_data, b, xl, yl), want, want_zero);
    std::map<int64_t, int> seen;
    for (int64_t b = 0; b < mls::decomposed_blocks(conv); ++b) {
      const LoweredPass lp = mls::lower_decomposed_bwd_data(conv, b, xl, yl);
      got_products += uint64_t(lp.macs());
      for (int64_t i : lp.out_index) ++seen[i];
      collect(lp, got, got_zero);
    }
    const GroupLayout al(c.a, Grouping::nc);
    for (int64_t b = 0; b < conv.blocks(Pass::fwd); ++b) fwd_products += uint64_t(conv.lower(Pass::fwd, b, xl, al).macs());
    EXPECT_EQ(int64_t(seen.size()), geo.n * geo.ci * geo.h * geo.w) << "every output in some block";
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](const auto& s) { return s.second == 1; }))
        << "and in one only";
    for (auto& [out, v] : want) std::sort(v.begin(), v.end());
    for (auto& [out, v] : got) std::sort(v.begin(), v.end());
    EXPECT_EQ(got, want);
    EXPECT_LE(got_zero, want_zero);  // equal only for a 1x1 kernel (a zero tap per tapless phase)
    if (c.same_products_as_fwd) {
      EXPECT_LT(got_zero, want_zero);
      EXPECT_EQ(got_products, fwd_products) << "the forward pass's products";
    }
  }
}

TEST(ref_bwd_data_decompose, Names) {
  EXPECT_EQ(mls::parse_bwd_data("decompose"), mls::BwdData::decompose);
  EXPECT_EQ(mls::to_string(mls::parse_bwd_data("zero-insert")), "zero-insert");
  EXPECT_THROW(mls::parse_bwd_data("dense"), mls::Error);
  EXPECT_FALSE(mls::decomposes(mls::Conv2d(ConvParams{})));
}

}  // namespace
