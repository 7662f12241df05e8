// Layer kinds (ref/workload/layer_kind.h): the registry, conv2d's manifest keys and
// their messages, the geometry errors naming the operand, and one layer used
// through the LayerKind interface alone. The lowering and the reference values
// themselves are checked in ref_golden_test.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "ref/workload/conv2d.h"
#include "ref/core/error.h"
#include "ref/workload/layer_kind.h"

namespace {

using mls::Error;
using mls::Operand;
using mls::Pass;
using nlohmann::json;

// The message of the mls::Error `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ref_layer_kind, RegistryFindsConv2dAndNamesTheKnownKinds) {
  const mls::LayerKindEntry& conv = mls::find_layer_kind("conv2d", "m: layer 'a'");
  EXPECT_EQ(conv.name, "conv2d");
  EXPECT_EQ(conv.keys, (std::vector<std::string>{"stride", "padding", "dilation", "groups"}));
  EXPECT_EQ(std::string(mls::kDefaultLayerKind), "conv2d");
  EXPECT_EQ(error_of([] { mls::find_layer_kind("lstm", "m: layer 'a'"); }),
            "m: layer 'a': kind 'lstm' is not supported (only conv2d, conv_transpose2d, linear, matmul)");
}

TEST(ref_layer_kind, Conv2dParsesItsManifestKeys) {
  const json entry = {{"stride", {2, 1}}, {"padding", 1}, {"groups", 1}};
  const auto kind = mls::Conv2d::from_manifest(entry, "w");
  const auto& conv = dynamic_cast<const mls::Conv2d&>(*kind);
  EXPECT_EQ(conv.name(), "conv2d");
  EXPECT_EQ(conv.params().stride_h, 2);
  EXPECT_EQ(conv.params().stride_w, 1);
  EXPECT_EQ(conv.params().pad_h, 1);
  EXPECT_EQ(conv.params().pad_w, 1);
  EXPECT_EQ(conv.params().dil_h, 1);  // default
}

TEST(ref_layer_kind, Conv2dManifestErrorsNameTheKey) {
  auto parse = [](const json& entry) { return error_of([&] { mls::Conv2d::from_manifest(entry, "w"); }); };
  EXPECT_EQ(parse({{"groups", 0}}), "w: 'groups' = '0' is out of range [1, 65536]");
  EXPECT_EQ(parse({{"groups", {2, 2}}}), "w: 'groups' must be an integer, got array");
  EXPECT_EQ(parse({{"stride", 0}}), "w: 'stride' = '0' is out of range [1, 65536]");
  EXPECT_EQ(parse({{"padding", {0, 70000}}}), "w: 'padding' = '70000' is out of range [0, 65536]");
  EXPECT_EQ(parse({{"dilation", -1}}), "w: 'dilation' = '-1' is out of range [1, 65536]");
  EXPECT_EQ(parse({{"stride", "2"}}), "w: 'stride' must be an integer or [h, w], got string");
  EXPECT_EQ(parse({{"stride", {1, 2, 3}}}), "w: 'stride' must be an integer or [h, w]");
}

TEST(ref_layer_kind, Conv2dGeometryErrorsNameTheOperand) {
  auto bind = [](const mls::Shape& w, const mls::Shape& a, const mls::Shape* e, mls::ConvParams prm = {}) {
    return error_of([&] { mls::Conv2d(prm).bind(w, a, e); });
  };
  EXPECT_NE(bind({4, 3, 3}, {2, 3, 8, 8}, nullptr).find("weight must have rank 4"), std::string::npos);
  EXPECT_NE(bind({4, 3, 3, 3}, {2, 5, 8, 8}, nullptr).find("of input"), std::string::npos);
  const mls::Shape bad_e{2, 4, 5, 5};
  EXPECT_NE(bind({4, 3, 3, 3}, {2, 3, 8, 8}, &bad_e).find("grad_output shape [2, 4, 5, 5] should be [2, 4, 6, 6]"),
            std::string::npos);
  mls::ConvParams huge;
  huge.pad_h = huge.pad_w = 1000;
  EXPECT_NE(bind({4, 3, 3, 3}, {2, 3, 8, 8}, nullptr, huge).find("padding 1000 along the height"), std::string::npos);
  EXPECT_NE(error_of([] { mls::Conv2d().geometry(); }).find("not bound"), std::string::npos);
}

TEST(ref_layer_kind, OneLayerThroughTheInterface) {
  // A 1x1 conv, 2 input and 3 output channels, 2x2 input, no quantization:
  // fwd is out[n, co, h, w] = sum_ci W[co, ci] A[n, ci, h, w].
  std::unique_ptr<mls::LayerKind> kind = std::make_unique<mls::Conv2d>();
  mls::TensorF w(mls::Shape{3, 2, 1, 1}), a(mls::Shape{1, 2, 2, 2});
  for (size_t i = 0; i < w.data.size(); ++i) w.data[i] = float(i + 1);
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = float(i) - 3.0f;
  kind->bind(w.shape, a.shape, nullptr);
  EXPECT_EQ(kind->x_operand(Pass::fwd), Operand::weight);
  EXPECT_EQ(kind->y_operand(Pass::bwd_data), Operand::grad_output);
  EXPECT_EQ(kind->x_operand(Pass::bwd_weight), Operand::grad_output);
  EXPECT_EQ(mls::to_string(Operand::grad_output), "grad_output");
  const mls::LoweredPass lp = kind->lower(Pass::fwd, mls::GroupLayout(w.shape, mls::Grouping::nc),
                                          mls::GroupLayout(a.shape, mls::Grouping::nc));
  EXPECT_EQ(lp.m, 3);
  EXPECT_EQ(lp.p, 4);
  EXPECT_EQ(lp.g, 2);
  EXPECT_EQ(lp.k, 1);
  EXPECT_EQ(lp.out_shape, (mls::Shape{1, 3, 2, 2}));
  const std::vector<double> out = kind->reference(Pass::fwd, w, a, nullptr);
  ASSERT_EQ(out.size(), 12u);
  for (int co = 0; co < 3; ++co)
    for (int hw = 0; hw < 4; ++hw)
      EXPECT_EQ(out[size_t(co * 4 + hw)], w.data[size_t(co * 2)] * a.data[size_t(hw)] +
                                              w.data[size_t(co * 2 + 1)] * a.data[size_t(4 + hw)]);
  EXPECT_NE(error_of([&] { kind->reference(Pass::bwd_data, w, a, nullptr); }).find("needs grad_output"),
            std::string::npos);
}

}  // namespace
