#pragma once
// conv2d: a 2-D convolution with weight W [Co, Ci/groups, Kh, Kw], input A
// [N, Ci, H, W] and output gradient E [N, Co, Ho, Wo]; stride, symmetric zero
// padding and dilation per axis; groups >= 1 dividing Ci and Co (depthwise:
// groups = Ci) (docs/reference.md#shapes-and-passes). Its lowering is the
// table of docs/reference.md#lowering-to-a-grouped-product, one block per
// group (docs/layers.md).
#include <memory>
#include <string>
#include <vector>

#include "ref/workload/layer_kind.h"

namespace mls {

// Stride, padding and dilation are at most this (checked by conv_geometry).
constexpr int kMaxConvParam = 1 << 16;

struct ConvParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dil_h = 1, dil_w = 1;
  int groups = 1;
};

struct ConvGeometry {
  int64_t n = 0, ci = 0, h = 0, w = 0;  // input [N, Ci, H, W]
  int64_t co = 0, kh = 0, kw = 0;       // weight [Co, Ci/groups, Kh, Kw]
  int64_t ho = 0, wo = 0;               // output [N, Co, Ho, Wo]
  ConvParams params;

  int64_t groups() const { return params.groups; }
  int64_t cig() const { return ci / params.groups; }  // input channels per group
  int64_t cog() const { return co / params.groups; }  // output channels per group
};

// Checks the shapes against each other and the parameters; throws mls::Error
// with a message that names the offending operand ("weight", "input",
// "grad_output"). Without grad_output, only W and A are checked.
ConvGeometry conv_geometry(const Shape& weight, const Shape& input, const ConvParams& params,
                           const Shape* grad_output = nullptr);

// stride, padding, dilation and groups from a conv2d or conv_transpose2d
// manifest entry; errors start with `where`.
ConvParams conv_params_from_manifest(const nlohmann::json& entry, const std::string& where);

class Conv2d final : public LayerKind {
 public:
  static constexpr const char* kName = "conv2d";
  // stride, padding, dilation (an integer or [h, w]) and groups.
  static std::vector<std::string> manifest_keys();
  static std::unique_ptr<LayerKind> from_manifest(const nlohmann::json& entry, const std::string& where);
  // How `mlssim synth` makes up a layer of this kind.
  static const SynthRules kSynth;

  explicit Conv2d(const ConvParams& params = {}) : params_(params) {}

  std::string name() const override { return kName; }
  void bind(const Shape& weight, const Shape& input, const Shape* grad_output) override;
  // One block per group: block j holds output channels [j*Co/G, (j+1)*Co/G)
  // and input channels [j*Ci/G, (j+1)*Ci/G).
  int64_t blocks(Pass pass) const override;
  using LayerKind::lower;
  LoweredPass lower(Pass pass, int64_t block, const GroupLayout& x_layout,
                    const GroupLayout& y_layout) const override;
  // fwd: W dim 1, A dim 1 (per channel group); bwd-data: W dim 0, E dim 1 (per
  // channel group); bwd-weight: E dim 0, A dim 0 (the batch).
  ProductSize product_size(Pass pass) const override;
  // --bwd-data decompose with a stride above 1: the backward-data pass as
  // groups x phases dense sub-convolutions (ref/workload/bwd_data_decompose.h);
  // planned with about one tap in stride_h x stride_w of zero insertion's.
  int64_t blocks_with(Pass pass, BwdData bwd_data) const override;
  LoweredPass lower_with(Pass pass, BwdData bwd_data, int64_t block, const GroupLayout& x_layout,
                         const GroupLayout& y_layout) const override;
  ProductSize planned_size(Pass pass, BwdData bwd_data) const override;
  BlockAxis block_axis(Pass pass, bool x_side) const override;
  // With ci' = ci - j*Ci/G the weight's input-channel index inside co's group j:
  // fwd:        out[n,co,ho,wo]  = sum_{ci,kh,kw} W[co,ci',kh,kw] * A[n,ci,ho*S-P+kh*D, wo*S-P+kw*D]
  // bwd-data:   out[n,ci,h,w]    = sum over the (co,ho,wo,kh,kw) that fwd maps onto (h, w) of W * E
  // bwd-weight: out[co,ci',kh,kw] = sum_{n,ho,wo} E[n,co,ho,wo] * A[n,ci,ho*S-P+kh*D, wo*S-P+kw*D]
  // Written from these textbook definitions, with no lowering and no chunks.
  std::vector<double> reference(Pass pass, const TensorF& weight, const TensorF& input,
                                const TensorF* grad_output) const override;

  // A 1x1 kernel: nc's (co, ci) weight groups hold one element, so fwd and
  // bwd-data would have k = 1 (a linear layer over the channels).
  bool blocks_by_default() const override { return geo_.bound() && geo_.get("conv2d").kh * geo_.get("conv2d").kw == 1; }
  const ConvParams& params() const { return params_; }
  // The geometry bind() fixed; throws mls::Error before bind().
  const ConvGeometry& geometry() const { return geo_.get(kName); }

 private:
  ConvParams params_;
  BoundGeometry<ConvGeometry> geo_;
};

}  // namespace mls
