#include "ref/workload/matmul.h"

#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/workload/matrix_product.h"

namespace mls {

namespace {

Shape with_matrix(const Shape& batch, int64_t rows, int64_t cols) {
  Shape s = batch;
  s.push_back(rows);
  s.push_back(cols);
  return s;
}

// The output [..., M, N] of a synthesized matmul A [..., M, K] x B [..., K, N].
Shape synth_output_shape(const Shape& weight, const Shape& input, const nlohmann::json&, const std::string& where) {
  if (weight.size() != input.size())
    throw Error(where + ": weight and input must have the same number of batch dimensions (matmul)");
  Shape out = input;
  out.back() = weight.back();
  return out;
}

}  // namespace

const SynthRules Matmul::kSynth = {2, 6, "weight (the second operand, without the batch)",
                                   2, 6, "input (the first operand, without the batch)",
                                   false, false, true, false, &synth_output_shape};

std::unique_ptr<LayerKind> Matmul::from_manifest(const nlohmann::json&, const std::string&) {
  return std::make_unique<Matmul>();
}

void Matmul::bind(const Shape& weight, const Shape& input, const Shape* grad_output) {
  if (input.size() < 2) throw Error("input (first operand) must have rank >= 2 [..., M, K], got " + shape_str(input));
  if (weight.size() != input.size())
    throw Error("weight (second operand) " + shape_str(weight) + " must have the rank of input " + shape_str(input) +
                " [..., K, N] (batch dims must match)");
  check_no_empty_dim(weight, input);
  MatmulGeometry g;
  g.batch_dims.assign(input.begin(), input.end() - 2);
  if (!std::equal(g.batch_dims.begin(), g.batch_dims.end(), weight.begin()))
    throw Error("weight's batch dims " + shape_str(weight) + " differ from input's " + shape_str(input));
  g.batch = numel(g.batch_dims);
  g.m = input[input.size() - 2], g.k = input.back(), g.n = weight.back();
  if (weight[weight.size() - 2] != g.k)
    throw Error("weight " + shape_str(weight) + " must be [..., K, N] with K = " + std::to_string(g.k) +
                ", input's last dim (" + shape_str(input) + ")");
  const Shape out = with_matrix(g.batch_dims, g.m, g.n);
  check_grad_output_shape(grad_output, out, weight, input);
  check_element_limit({numel(input), numel(weight), numel(out)});
  geo_.set(g);
}

int64_t Matmul::blocks(Pass) const { return geometry().batch; }

Shape Matmul::grouping_shape(Operand, const Shape& natural) const { return matrix_shape(natural); }

LayerKind::ProductSize Matmul::product_size(Pass pass) const {
  const MatmulGeometry& c = geometry();
  switch (pass) {
    case Pass::fwd: return {c.n, c.m, c.k};
    case Pass::bwd_data: return {c.k, c.m, c.n};
    case Pass::bwd_weight: break;
  }
  return {c.n, c.k, c.m};
}

LoweredPass Matmul::lower(Pass pass, int64_t block, const GroupLayout& xl, const GroupLayout& yl) const {
  const MatmulGeometry& c = geometry();
  if (block < 0 || block >= c.batch)
    throw Error("matmul: block " + std::to_string(block) + " of " + std::to_string(c.batch));
  const int64_t a0 = block * c.m * c.k, b0 = block * c.k * c.n, e0 = block * c.m * c.n;
  MatrixProduct mp;
  mp.pass = pass;
  switch (pass) {
    case Pass::fwd:
      mp.m = c.n, mp.p = c.m, mp.r = c.k;
      mp.x = {b0, 1, c.n}, mp.y = {a0, c.k, 1};
      mp.out_shape = with_matrix(c.batch_dims, c.m, c.n), mp.out = {e0, 1, c.n};
      break;
    case Pass::bwd_data:
      mp.m = c.k, mp.p = c.m, mp.r = c.n;
      mp.x = {b0, c.n, 1}, mp.y = {e0, c.n, 1};
      mp.out_shape = with_matrix(c.batch_dims, c.m, c.k), mp.out = {a0, 1, c.k};
      break;
    case Pass::bwd_weight:
      mp.m = c.n, mp.p = c.k, mp.r = c.m;
      mp.x = {e0, 1, c.n}, mp.y = {a0, 1, c.k};
      mp.out_shape = with_matrix(c.batch_dims, c.k, c.n), mp.out = {b0, 1, c.n};
      break;
  }
  return lower_matrix_product(mp, xl, yl);
}

BlockAxis Matmul::block_axis(Pass pass, bool x_side) const {
  const MatmulGeometry& c = geometry();
  switch (pass) {
    case Pass::fwd: return x_side ? BlockAxis{0, c.k} : BlockAxis{1, 0};  // B [b*K, N], A [b*M, K]
    case Pass::bwd_data: return {1, 0};                                   // B [b*K, N], E [b*M, N]
    case Pass::bwd_weight: break;
  }
  return {0, c.m};  // E [b*M, N], A [b*M, K]
}

std::vector<double> Matmul::reference(Pass pass, const TensorF& B, const TensorF& A, const TensorF* E) const {
  const MatmulGeometry& c = geometry();
  if (pass != Pass::fwd && !E) throw Error(to_string(pass) + " reference needs grad_output");
  const int64_t per = pass == Pass::fwd ? c.m * c.n : pass == Pass::bwd_data ? c.m * c.k : c.k * c.n;
  std::vector<double> res(size_t(c.batch * per), 0.0);
  // Every (b, i, kk, j) term of C[b, i, j] = sum_kk A[b, i, kk] B[b, kk, j]
  // feeds one element of each pass's result.
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t kk = 0; kk < c.k; ++kk)
        for (int64_t j = 0; j < c.n; ++j) {
          const double a = A.data[size_t((b * c.m + i) * c.k + kk)], bv = B.data[size_t((b * c.k + kk) * c.n + j)];
          if (pass == Pass::fwd) {
            res[size_t((b * c.m + i) * c.n + j)] += a * bv;
            continue;
          }
          const double e = E->data[size_t((b * c.m + i) * c.n + j)];
          if (pass == Pass::bwd_data) res[size_t((b * c.m + i) * c.k + kk)] += e * bv;
          else res[size_t((b * c.k + kk) * c.n + j)] += a * e;
        }
  return res;
}

}  // namespace mls
