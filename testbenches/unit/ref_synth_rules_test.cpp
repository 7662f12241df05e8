// The layer kinds' synth rules (ref/workload/layer_kind.h, SynthRules): the
// output shapes `mlssim synth` draws against the convolution and product
// formulas worked by hand, and against each kind's own bind().
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "ref/core/error.h"
#include "ref/workload/layer_kind.h"

namespace mls {
namespace {

const LayerKindEntry& entry(const std::string& name) { return find_layer_kind(name, "test"); }

// The output shape by the kind's rules, then checked by the kind's bind().
Shape synth_output(const std::string& kind, const Shape& weight, const Shape& input, const nlohmann::json& params) {
  const LayerKindEntry& e = entry(kind);
  EXPECT_NE(e.synth, nullptr);
  const Shape out = e.synth->output_shape(weight, input, params, "test");
  std::unique_ptr<LayerKind> k = e.from_manifest(params, "test");
  EXPECT_NO_THROW(k->bind(weight, input, &out));
  return out;
}

TEST(SynthRules, Conv2dOutputFollowsTheConvolutionFormula) {
  // H: (9 + 2*1 - 3) / 2 + 1 = 5; W: (7 + 2*1 - 3) / 2 + 1 = 4.
  EXPECT_EQ(synth_output("conv2d", {4, 3, 3, 3}, {2, 3, 9, 7}, {{"stride", 2}, {"padding", 1}}), (Shape{2, 4, 5, 4}));
  // Dilation 2 spans 5 taps: (6 - 5) / 1 + 1 = 2; groups 3 of one channel each.
  EXPECT_EQ(synth_output("conv2d", {6, 1, 3, 3}, {1, 3, 6, 6}, {{"dilation", 2}, {"groups", 3}}), (Shape{1, 6, 2, 2}));
}

TEST(SynthRules, Conv2dRefusesAKernelWiderThanThePaddedInput) {
  try {
    entry("conv2d").synth->output_shape({4, 3, 3, 3}, {1, 3, 4, 9}, {{"dilation", 2}}, "layer 'c'");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "layer 'c': the height with padding, 4, is smaller than the kernel's span 5");
  }
}

TEST(SynthRules, LinearAndMatmulOutputsAreProducts) {
  EXPECT_EQ(synth_output("linear", {10, 6}, {2, 5, 6}, nlohmann::json::object()), (Shape{2, 5, 10}));
  // A [2, 3, 4] x B [2, 4, 7]: the batch on both operands (weight_batched).
  EXPECT_TRUE(entry("matmul").synth->weight_batched);
  EXPECT_EQ(synth_output("matmul", {2, 4, 7}, {2, 3, 4}, nlohmann::json::object()), (Shape{2, 3, 7}));
  EXPECT_THROW(entry("matmul").synth->output_shape({2, 4, 7}, {2, 2, 3, 4}, nlohmann::json::object(), "m"), Error);
}

TEST(SynthRules, WhichKindsSynthCanMake) {
  EXPECT_TRUE(entry("conv2d").synth->channels_first);
  EXPECT_TRUE(entry("conv2d").synth->relu_after_first);
  EXPECT_FALSE(entry("linear").synth->channels_first);
  EXPECT_FALSE(entry("matmul").synth->weight_is_parameter);  // both operands are activations
  EXPECT_EQ(entry("conv_transpose2d").synth, nullptr);
}

}  // namespace
}  // namespace mls
