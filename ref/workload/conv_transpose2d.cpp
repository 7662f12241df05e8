#include "ref/workload/conv_transpose2d.h"

#include <nlohmann/json.hpp>

#include "ref/core/error.h"

namespace mls {

namespace {

// The pass of C' that computes `pass` of the transposed conv.
Pass adjoint_pass(Pass pass) {
  switch (pass) {
    case Pass::fwd: return Pass::bwd_data;
    case Pass::bwd_data: return Pass::fwd;
    case Pass::bwd_weight: break;
  }
  return Pass::bwd_weight;
}

int64_t transposed_size(int64_t in, int64_t k, int stride, int pad, int dil, int out_pad) {
  return (in - 1) * stride - 2 * int64_t(pad) + int64_t(dil) * (k - 1) + out_pad + 1;
}

}  // namespace

std::vector<std::string> ConvTranspose2d::manifest_keys() {
  return {"stride", "padding", "dilation", "groups", "output_padding"};
}

std::unique_ptr<LayerKind> ConvTranspose2d::from_manifest(const nlohmann::json& entry, const std::string& where) {
  const ConvParams prm = conv_params_from_manifest(entry, where);
  const auto op = manifest_int_pair(entry, "output_padding", 0, 0, kMaxConvParam, where);
  if (op.first >= prm.stride_h || op.second >= prm.stride_w)
    throw Error(where + ": output_padding [" + std::to_string(op.first) + ", " + std::to_string(op.second) +
                "] must be below the stride [" + std::to_string(prm.stride_h) + ", " + std::to_string(prm.stride_w) +
                "]");
  return std::make_unique<ConvTranspose2d>(prm, op.first, op.second);
}

void ConvTranspose2d::bind(const Shape& weight, const Shape& input, const Shape* grad_output) {
  if (weight.size() != 4) throw Error("weight must have rank 4 [Ci, Co/groups, Kh, Kw], got " + shape_str(weight));
  if (input.size() != 4) throw Error("input must have rank 4 [N, Ci, H, W], got " + shape_str(input));
  check_no_empty_dim(weight, input);
  if (input[1] != weight[0])
    throw Error("input channels " + std::to_string(input[1]) + " of input " + shape_str(input) +
                " differ from weight's Ci = " + std::to_string(weight[0]) + " of " + shape_str(weight));
  if (weight[0] % params_.groups != 0)
    throw Error("groups = " + std::to_string(params_.groups) + " does not divide the weight's Ci = " +
                std::to_string(weight[0]) + " of " + shape_str(weight));
  const int64_t ho = transposed_size(input[2], weight[2], params_.stride_h, params_.pad_h, params_.dil_h, out_pad_h_);
  const int64_t wo = transposed_size(input[3], weight[3], params_.stride_w, params_.pad_w, params_.dil_w, out_pad_w_);
  if (ho < 1 || wo < 1)
    throw Error("padding leaves no output for weight " + shape_str(weight) + " and input " + shape_str(input));
  const Shape out{input[0], weight[1] * params_.groups, ho, wo};
  check_grad_output_shape(grad_output, out, weight, input);
  // C' runs from the output space back to the input space.
  adjoint_.bind(weight, out, &input);
  input_ = input;
  output_ = out;
}

Operand ConvTranspose2d::x_operand(Pass pass) const {
  return pass == Pass::bwd_weight ? Operand::input : Operand::weight;
}

Operand ConvTranspose2d::y_operand(Pass pass) const {
  return pass == Pass::fwd ? Operand::input : Operand::grad_output;
}

LoweredPass ConvTranspose2d::lower(Pass pass, int64_t block, const GroupLayout& xl, const GroupLayout& yl) const {
  LoweredPass lp = adjoint_.lower(adjoint_pass(pass), block, xl, yl);
  lp.pass = pass;
  return lp;
}

LayerKind::ProductSize ConvTranspose2d::product_size(Pass pass) const {
  return adjoint_.product_size(adjoint_pass(pass));
}

BlockAxis ConvTranspose2d::block_axis(Pass pass, bool x_side) const {
  return adjoint_.block_axis(adjoint_pass(pass), x_side);
}

std::vector<double> ConvTranspose2d::reference(Pass pass, const TensorF& W, const TensorF& A, const TensorF* E) const {
  if (output_.empty()) throw Error("conv_transpose2d: the layer's shapes are not bound yet (LayerKind::bind)");
  if (pass != Pass::fwd && !E) throw Error(to_string(pass) + " reference needs grad_output");
  const ConvParams& q = params_;
  const int64_t n_ = input_[0], ci_ = input_[1], h_ = input_[2], w_ = input_[3];
  const int64_t cog = W.shape[1], kh_ = W.shape[2], kw_ = W.shape[3], co_ = output_[1], ho_ = output_[2],
                wo_ = output_[3];
  const int64_t cig = ci_ / q.groups;
  const size_t size = pass == Pass::fwd ? size_t(numel(output_)) : pass == Pass::bwd_data ? size_t(numel(input_))
                                                                                           : size_t(numel(W.shape));
  std::vector<double> res(size, 0.0);
  for (int64_t n = 0; n < n_; ++n)
    for (int64_t ci = 0; ci < ci_; ++ci)
      for (int64_t h = 0; h < h_; ++h)
        for (int64_t w = 0; w < w_; ++w)
          for (int64_t cl = 0; cl < cog; ++cl)
            for (int64_t kh = 0; kh < kh_; ++kh)
              for (int64_t kw = 0; kw < kw_; ++kw) {
                const int64_t ho = h * q.stride_h - q.pad_h + kh * q.dil_h;
                const int64_t wo = w * q.stride_w - q.pad_w + kw * q.dil_w;
                if (ho < 0 || ho >= ho_ || wo < 0 || wo >= wo_) continue;
                const int64_t co = ci / cig * cog + cl;
                const size_t a_at = size_t(((n * ci_ + ci) * h_ + h) * w_ + w);
                const size_t w_at = size_t(((ci * cog + cl) * kh_ + kh) * kw_ + kw);
                const size_t e_at = size_t(((n * co_ + co) * ho_ + ho) * wo_ + wo);
                if (pass == Pass::fwd) res[e_at] += double(A.data[a_at]) * W.data[w_at];
                else if (pass == Pass::bwd_data) res[a_at] += double(E->data[e_at]) * W.data[w_at];
                else res[w_at] += double(A.data[a_at]) * E->data[e_at];
              }
  return res;
}

}  // namespace mls
