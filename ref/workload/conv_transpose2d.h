#pragma once
// conv_transpose2d: the transposed 2-D convolution, PyTorch layout: weight W
// [Ci, Co/groups, Kh, Kw], input A [N, Ci, H, W], output gradient E
// [N, Co, Ho, Wo] with Ho = (H - 1)*S - 2P + D*(Kh - 1) + output_padding + 1.
//
// It is the adjoint of the conv2d C' that maps [N, Co, Ho, Wo] to
// [N, Ci, H, W] with the same weight tensor (C' has Co' = Ci output and
// Ci' = Co input channels), so each pass is one of C''s passes with the
// operands' roles exchanged (docs/layers.md):
//   fwd        = C' bwd-data   (X = W, Y = A in the role of C''s E)
//   bwd-data   = C' fwd        (X = W, Y = E in the role of C''s A)
//   bwd-weight = C' bwd-weight (X = A, Y = E)
// output_padding must be below the stride, so that C' maps Ho back to H.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ref/workload/conv2d.h"
#include "ref/workload/layer_kind.h"

namespace mls {

class ConvTranspose2d final : public LayerKind {
 public:
  static constexpr const char* kName = "conv_transpose2d";
  // conv2d's keys and output_padding (an integer or [h, w]).
  static std::vector<std::string> manifest_keys();
  static std::unique_ptr<LayerKind> from_manifest(const nlohmann::json& entry, const std::string& where);

  ConvTranspose2d(const ConvParams& params, int out_pad_h, int out_pad_w)
      : params_(params), out_pad_h_(out_pad_h), out_pad_w_(out_pad_w), adjoint_(params) {}

  std::string name() const override { return kName; }
  void bind(const Shape& weight, const Shape& input, const Shape* grad_output) override;
  Operand x_operand(Pass pass) const override;
  Operand y_operand(Pass pass) const override;
  int64_t blocks(Pass pass) const override { return adjoint_.blocks(pass); }
  using LayerKind::lower;
  LoweredPass lower(Pass pass, int64_t block, const GroupLayout& x_layout,
                    const GroupLayout& y_layout) const override;
  // The adjoint conv's axes for the adjoint pass.
  ProductSize product_size(Pass pass) const override;
  BlockAxis block_axis(Pass pass, bool x_side) const override;
  bool blocks_by_default() const override { return adjoint_.blocks_by_default(); }
  // From the definition: each (n, ci, h, w, co', kh, kw) tap adds A[n,ci,h,w] * W[ci,co',kh,kw]
  // to out[n, co, h*S - P + kh*D, w*S - P + kw*D], co = group(ci)*Co/G + co'.
  std::vector<double> reference(Pass pass, const TensorF& weight, const TensorF& input,
                                const TensorF* grad_output) const override;

 private:
  ConvParams params_;
  int out_pad_h_, out_pad_w_;
  Conv2d adjoint_;  // C', bound to (W, [N, Co, Ho, Wo], [N, Ci, H, W])
  Shape input_, output_;
};

}  // namespace mls
