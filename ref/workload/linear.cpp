#include "ref/workload/linear.h"

#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/workload/matrix_product.h"

namespace mls {

namespace {

// The output [..., out] of a synthesized linear layer.
Shape synth_output_shape(const Shape& weight, const Shape& input, const nlohmann::json&, const std::string&) {
  Shape out = input;
  out.back() = weight[0];
  return out;
}

}  // namespace

const SynthRules Linear::kSynth = {2, 2, "weight", 1, 6, "input (without the batch)",
                                   false, true, false, false, &synth_output_shape};

std::unique_ptr<LayerKind> Linear::from_manifest(const nlohmann::json&, const std::string&) {
  return std::make_unique<Linear>();
}

void Linear::bind(const Shape& weight, const Shape& input, const Shape* grad_output) {
  if (weight.size() != 2) throw Error("weight must have rank 2 [out, in], got " + shape_str(weight));
  if (input.empty()) throw Error("input must have rank >= 1 [..., in], got " + shape_str(input));
  check_no_empty_dim(weight, input);
  if (input.back() != weight[1])
    throw Error("input's last dim " + std::to_string(input.back()) + " of input " + shape_str(input) +
                " differs from weight's in = " + std::to_string(weight[1]) + " of " + shape_str(weight));
  LinearGeometry g{weight[0], weight[1], numel(input) / weight[1], input};
  Shape out_shape = input;
  out_shape.back() = g.out;
  check_grad_output_shape(grad_output, out_shape, weight, input);
  check_element_limit({numel(input), numel(weight), g.tokens * g.out});
  geo_.set(g);
}

Shape Linear::grouping_shape(Operand, const Shape& natural) const { return matrix_shape(natural); }

LayerKind::ProductSize Linear::product_size(Pass pass) const {
  const LinearGeometry& c = geometry();
  switch (pass) {
    case Pass::fwd: return {c.out, c.tokens, c.in};
    case Pass::bwd_data: return {c.in, c.tokens, c.out};
    case Pass::bwd_weight: break;
  }
  return {c.out, c.in, c.tokens};
}

LoweredPass Linear::lower(Pass pass, int64_t block, const GroupLayout& xl, const GroupLayout& yl) const {
  const LinearGeometry& c = geometry();
  if (block != 0) throw Error("linear: block " + std::to_string(block) + " of 1");
  const int64_t out = c.out, in = c.in, t = c.tokens;
  MatrixProduct mp;
  mp.pass = pass;
  Shape out_tokens = c.input;
  out_tokens.back() = out;
  switch (pass) {
    case Pass::fwd:
      mp.m = out, mp.p = t, mp.r = in;
      mp.x = {0, in, 1}, mp.y = {0, in, 1};
      mp.out_shape = out_tokens, mp.out = {0, 1, out};
      break;
    case Pass::bwd_data:
      mp.m = in, mp.p = t, mp.r = out;
      mp.x = {0, 1, in}, mp.y = {0, out, 1};
      mp.out_shape = c.input, mp.out = {0, 1, in};
      break;
    case Pass::bwd_weight:
      mp.m = out, mp.p = in, mp.r = t;
      mp.x = {0, 1, out}, mp.y = {0, 1, in};
      mp.out_shape = {out, in}, mp.out = {0, in, 1};
      break;
  }
  return lower_matrix_product(mp, xl, yl);
}

BlockAxis Linear::block_axis(Pass pass, bool x_side) const {
  switch (pass) {
    case Pass::fwd: return {1, 0};
    case Pass::bwd_data: return {x_side ? 0 : 1, 0};
    case Pass::bwd_weight: break;
  }
  return {0, 0};
}

std::vector<double> Linear::reference(Pass pass, const TensorF& W, const TensorF& A, const TensorF* E) const {
  const LinearGeometry& c = geometry();
  if (pass != Pass::fwd && !E) throw Error(to_string(pass) + " reference needs grad_output");
  const size_t size = pass == Pass::fwd ? size_t(c.tokens * c.out)
                      : pass == Pass::bwd_data ? size_t(c.tokens * c.in) : size_t(c.out * c.in);
  std::vector<double> res(size, 0.0);
  for (int64_t t = 0; t < c.tokens; ++t)
    for (int64_t o = 0; o < c.out; ++o)
      for (int64_t i = 0; i < c.in; ++i) {
        const double w = W.data[size_t(o * c.in + i)], a = A.data[size_t(t * c.in + i)];
        if (pass == Pass::fwd) {
          res[size_t(t * c.out + o)] += w * a;
          continue;
        }
        const double e = E->data[size_t(t * c.out + o)];
        if (pass == Pass::bwd_data) res[size_t(t * c.in + i)] += e * w;
        else res[size_t(o * c.in + i)] += e * a;
      }
  return res;
}

}  // namespace mls
