#pragma once
// matmul: C = A B of two activations, the first operand A [..., M, K] (the
// manifest's `input`), the second B [..., K, N] (`weight`) and the output
// gradient E [..., M, N]; the leading dims are batch dims and must match
// (no broadcasting). Attention's Q K^T and P V are matmuls. `bwd-weight` is
// the gradient of B. One block per batch element; docs/layers.md has the
// M, P, G, K of each pass. Tensors are grouped as matrices [rows, last dim].
#include <memory>
#include <string>
#include <vector>

#include "ref/workload/layer_kind.h"

namespace mls {

struct MatmulGeometry {
  int64_t batch = 1, m = 0, k = 0, n = 0;
  Shape batch_dims;
};

class Matmul final : public LayerKind {
 public:
  static constexpr const char* kName = "matmul";
  static std::vector<std::string> manifest_keys() { return {}; }
  static std::unique_ptr<LayerKind> from_manifest(const nlohmann::json& entry, const std::string& where);
  // How `mlssim synth` makes up a layer of this kind.
  static const SynthRules kSynth;

  std::string name() const override { return kName; }
  void bind(const Shape& weight, const Shape& input, const Shape* grad_output) override;
  int64_t blocks(Pass pass) const override;
  // nc on [rows, last dim] is one element per group: one scale per product.
  bool blocks_by_default() const override { return true; }
  using LayerKind::lower;
  // Block b (one batch element):
  // fwd:        X = B^T [m = n, r = k], Y = A [p = i, r = k]  -> C[i, n]
  // bwd-data:   X = B [m = k, r = n],   Y = E [p = i, r = n]  -> dA[i, k]
  // bwd-weight: X = E^T [m = n, r = i], Y = A^T [p = k, r = i] -> dB[k, n]
  LoweredPass lower(Pass pass, int64_t block, const GroupLayout& x_layout,
                    const GroupLayout& y_layout) const override;
  // The reduction dim of each pass in the [rows, last dim] views, the batch
  // as segments of the row dim: fwd K (B dim 0, A dim 1), bwd-data N (B dim 1,
  // E dim 1), bwd-weight M (E dim 0, A dim 0).
  ProductSize product_size(Pass pass) const override;
  BlockAxis block_axis(Pass pass, bool x_side) const override;
  Shape grouping_shape(Operand operand, const Shape& natural) const override;
  std::vector<double> reference(Pass pass, const TensorF& weight, const TensorF& input,
                                const TensorF* grad_output) const override;

  const MatmulGeometry& geometry() const { return geo_.get(kName); }

 private:
  BoundGeometry<MatmulGeometry> geo_;
};

}  // namespace mls
