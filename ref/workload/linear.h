#pragma once
// linear: y = x W^T with weight W [out, in], input A [..., in] (any leading
// dims, the tokens) and output gradient E [..., out]. No bias (it is not part
// of the trace format). Every pass is one matrix product over the T tokens
// (T = the product of the leading dims); docs/layers.md has its M, P, G, K.
// Tensors are grouped as matrices [rows, last dim] (matrix_shape).
#include <memory>
#include <string>
#include <vector>

#include "ref/workload/layer_kind.h"

namespace mls {

struct LinearGeometry {
  int64_t out = 0, in = 0, tokens = 0;
  Shape input;  // [..., in], for the shapes of the results
};

class Linear final : public LayerKind {
 public:
  static constexpr const char* kName = "linear";
  static std::vector<std::string> manifest_keys() { return {}; }
  static std::unique_ptr<LayerKind> from_manifest(const nlohmann::json& entry, const std::string& where);
  // How `mlssim synth` makes up a layer of this kind.
  static const SynthRules kSynth;

  std::string name() const override { return kName; }
  void bind(const Shape& weight, const Shape& input, const Shape* grad_output) override;
  // A final linear layer is the model's classifier.
  bool classifies_when_last() const override { return true; }
  // nc on [rows, in] is one element per group: one scale per product.
  bool blocks_by_default() const override { return true; }
  using LayerKind::lower;
  // fwd:        X = W [m = out, r = in],   Y = A [p = t, r = in]
  // bwd-data:   X = W^T [m = in, r = out], Y = E [p = t, r = out]
  // bwd-weight: X = E^T [m = out, r = t], Y = A^T [p = in, r = t]
  LoweredPass lower(Pass pass, int64_t block, const GroupLayout& x_layout,
                    const GroupLayout& y_layout) const override;
  // fwd: W and A along in (dim 1); bwd-data: W along out (dim 0), E along
  // out (dim 1); bwd-weight: E and A along the tokens (dim 0).
  ProductSize product_size(Pass pass) const override;
  BlockAxis block_axis(Pass pass, bool x_side) const override;
  Shape grouping_shape(Operand operand, const Shape& natural) const override;
  // fwd: out[t, o] = sum_i W[o, i] A[t, i]; bwd-data: out[t, i] = sum_o E[t, o] W[o, i];
  // bwd-weight: out[o, i] = sum_t E[t, o] A[t, i].
  std::vector<double> reference(Pass pass, const TensorF& weight, const TensorF& input,
                                const TensorF* grad_output) const override;

  const LinearGeometry& geometry() const { return geo_.get(kName); }

 private:
  BoundGeometry<LinearGeometry> geo_;
};

}  // namespace mls
