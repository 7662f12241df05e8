#include "ref/lowering.h"

#include <algorithm>

#include "ref/error.h"

namespace mls {

namespace {

int64_t out_size(int64_t in, int64_t k, int pad, int stride, int dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// (i, k) -> input coordinate of a tap, or -1 outside the input.
int64_t tap(int64_t out, int64_t k, int stride, int pad, int dil, int64_t in) {
  const int64_t x = out * stride - pad + k * dil;
  return (x >= 0 && x < in) ? x : -1;
}

// Backward-data: the output coordinate that tap k of input coordinate x reads,
// or -1 when the zero-inserted position is not a real output.
int64_t back_tap(int64_t x, int64_t k, int stride, int pad, int dil, int64_t out) {
  const int64_t num = x + pad - k * dil;
  if (num < 0 || num % stride != 0) return -1;
  const int64_t o = num / stride;
  return o < out ? o : -1;
}

// Padding beyond both the input's extent and the dilated kernel's reach only
// adds outputs that see no input element; refusing it keeps a lowered pass
// within a small multiple of the tensor sizes.
void check_padding(int pad, int dil, int64_t k, int64_t in, const char* side) {
  const int64_t reach = int64_t(dil) * (k - 1);
  if (pad > reach && pad > in)
    throw Error(std::string("padding ") + std::to_string(pad) + " along the " + side + " exceeds both the input's " +
                side + " " + std::to_string(in) + " and the dilated kernel's reach " + std::to_string(reach));
}

}  // namespace

ConvGeometry conv_geometry(const Shape& weight, const Shape& input, const ConvParams& prm,
                           const Shape* grad_output) {
  if (weight.size() != 4) throw Error("weight must have rank 4 [Co, Ci, Kh, Kw], got " + shape_str(weight));
  if (input.size() != 4) throw Error("input must have rank 4 [N, Ci, H, W], got " + shape_str(input));
  if (prm.stride_h < 1 || prm.stride_w < 1 || prm.pad_h < 0 || prm.pad_w < 0 || prm.dil_h < 1 || prm.dil_w < 1)
    throw Error("stride and dilation must be >= 1 and padding >= 0");
  if (std::max({prm.stride_h, prm.stride_w, prm.pad_h, prm.pad_w, prm.dil_h, prm.dil_w}) > kMaxConvParam)
    throw Error("stride, padding and dilation must be at most " + std::to_string(kMaxConvParam));
  ConvGeometry g;
  g.params = prm;
  g.co = weight[0], g.ci = weight[1], g.kh = weight[2], g.kw = weight[3];
  g.n = input[0], g.h = input[2], g.w = input[3];
  if (input[1] != g.ci)
    throw Error("input channels " + std::to_string(input[1]) + " of input " + shape_str(input) +
                " differ from weight's Ci = " + std::to_string(g.ci) + " of " + shape_str(weight));
  for (int64_t d : weight)
    if (d < 1) throw Error("weight shape " + shape_str(weight) + " has an empty dimension");
  for (int64_t d : input)
    if (d < 1) throw Error("input shape " + shape_str(input) + " has an empty dimension");
  check_padding(prm.pad_h, prm.dil_h, g.kh, g.h, "height");
  check_padding(prm.pad_w, prm.dil_w, g.kw, g.w, "width");
  g.ho = out_size(g.h, g.kh, prm.pad_h, prm.stride_h, prm.dil_h);
  g.wo = out_size(g.w, g.kw, prm.pad_w, prm.stride_w, prm.dil_w);
  if (g.ho < 1 || g.wo < 1)
    throw Error("kernel " + shape_str(weight) + " does not fit input " + shape_str(input) + " with this padding");
  if (grad_output) {
    const Shape expect{g.n, g.co, g.ho, g.wo};
    if (*grad_output != expect)
      throw Error("grad_output shape " + shape_str(*grad_output) + " should be " + shape_str(expect) +
                  " for weight " + shape_str(weight) + " and input " + shape_str(input));
  }
  if (numel(input) >= (int64_t{1} << 31) || numel(weight) >= (int64_t{1} << 31) ||
      g.n * g.co * g.ho * g.wo >= (int64_t{1} << 31))
    throw Error("tensors of 2^31 or more elements are not supported");
  return g;
}

Operand x_operand(Pass pass) { return pass == Pass::bwd_weight ? Operand::grad_output : Operand::weight; }
Operand y_operand(Pass pass) { return pass == Pass::bwd_data ? Operand::grad_output : Operand::input; }

namespace {

// Fills one operand's tables: for each row r (m for X, p for Y) and group g,
// the group-scale index, then the element index of each k (-1: a zero tap).
template <class GroupOf, class IndexOf>
void fill(int64_t rows, const LoweredPass& lp, GroupOf group_of, IndexOf index_of, std::vector<int32_t>& groups,
          std::vector<int32_t>& indices) {
  groups.reserve(size_t(rows * lp.g));
  indices.reserve(size_t(rows * lp.g * lp.k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < lp.g; ++g) {
      groups.push_back(int32_t(group_of(r, g)));
      for (int64_t k = 0; k < lp.k; ++k) indices.push_back(int32_t(index_of(r, g, k)));
    }
}

// Each pass below is the docs/reference.md#lowering-to-a-grouped-product table row: X[m, g, k], Y[p, g, k] and Out[m, p].
void lower_fwd(const ConvGeometry& c, const GroupLayout& xl, const GroupLayout& yl, LoweredPass& lp) {
  const auto& q = c.params;
  lp.m = c.co, lp.p = c.n * c.ho * c.wo, lp.g = c.ci, lp.k = c.kh * c.kw;
  lp.out_shape = {c.n, c.co, c.ho, c.wo};
  // X = W[co = m, ci = g, (kh, kw) = k]
  fill(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(m, g); },
       [&](int64_t m, int64_t g, int64_t k) { return (m * c.ci + g) * lp.k + k; }, lp.x_group, lp.x_index);
  // Y = A[n, ci = g, ho*S - P + kh*D, wo*S - P + kw*D] with p = (n, ho, wo)
  fill(lp.p, lp, [&](int64_t p, int64_t g) { return yl.group_of_pair(p / (c.ho * c.wo), g); },
       [&](int64_t p, int64_t g, int64_t k) -> int64_t {
         const int64_t n = p / (c.ho * c.wo), ho = p / c.wo % c.ho, wo = p % c.wo;
         const int64_t h = tap(ho, k / c.kw, q.stride_h, q.pad_h, q.dil_h, c.h);
         const int64_t w = tap(wo, k % c.kw, q.stride_w, q.pad_w, q.dil_w, c.w);
         return h < 0 || w < 0 ? -1 : ((n * c.ci + g) * c.h + h) * c.w + w;
       },
       lp.y_group, lp.y_index);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back((p / (c.ho * c.wo) * c.co + m) * c.ho * c.wo + p % (c.ho * c.wo));
}

void lower_bwd_data(const ConvGeometry& c, const GroupLayout& xl, const GroupLayout& yl, LoweredPass& lp) {
  const auto& q = c.params;
  lp.m = c.ci, lp.p = c.n * c.h * c.w, lp.g = c.co, lp.k = c.kh * c.kw;
  lp.out_shape = {c.n, c.ci, c.h, c.w};
  // X = W[co = g, ci = m, (kh, kw) = k]
  fill(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(g, m); },
       [&](int64_t m, int64_t g, int64_t k) { return (g * c.ci + m) * lp.k + k; }, lp.x_group, lp.x_index);
  // Y = E[n, co = g, (h + P - kh*D) / S, (w + P - kw*D) / S] with p = (n, h, w), when exact
  fill(lp.p, lp, [&](int64_t p, int64_t g) { return yl.group_of_pair(p / (c.h * c.w), g); },
       [&](int64_t p, int64_t g, int64_t k) -> int64_t {
         const int64_t n = p / (c.h * c.w), h = p / c.w % c.h, w = p % c.w;
         const int64_t ho = back_tap(h, k / c.kw, q.stride_h, q.pad_h, q.dil_h, c.ho);
         const int64_t wo = back_tap(w, k % c.kw, q.stride_w, q.pad_w, q.dil_w, c.wo);
         return ho < 0 || wo < 0 ? -1 : ((n * c.co + g) * c.ho + ho) * c.wo + wo;
       },
       lp.y_group, lp.y_index);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back((p / (c.h * c.w) * c.ci + m) * c.h * c.w + p % (c.h * c.w));
}

void lower_bwd_weight(const ConvGeometry& c, const GroupLayout& xl, const GroupLayout& yl, LoweredPass& lp) {
  const auto& q = c.params;
  lp.m = c.co, lp.p = c.ci * c.kh * c.kw, lp.g = c.n, lp.k = c.ho * c.wo;
  lp.out_shape = {c.co, c.ci, c.kh, c.kw};
  // X = E[n = g, co = m, (ho, wo) = k]
  fill(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(g, m); },
       [&](int64_t m, int64_t g, int64_t k) { return (g * c.co + m) * lp.k + k; }, lp.x_group, lp.x_index);
  // Y = A[n = g, ci, ho*S - P + kh*D, wo*S - P + kw*D] with p = (ci, kh, kw), k = (ho, wo)
  fill(lp.p, lp, [&](int64_t p, int64_t g) { return yl.group_of_pair(g, p / (c.kh * c.kw)); },
       [&](int64_t p, int64_t g, int64_t k) -> int64_t {
         const int64_t ci = p / (c.kh * c.kw), kh = p / c.kw % c.kh, kw = p % c.kw;
         const int64_t h = tap(k / c.wo, kh, q.stride_h, q.pad_h, q.dil_h, c.h);
         const int64_t w = tap(k % c.wo, kw, q.stride_w, q.pad_w, q.dil_w, c.w);
         return h < 0 || w < 0 ? -1 : ((g * c.ci + ci) * c.h + h) * c.w + w;
       },
       lp.y_group, lp.y_index);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back(m * lp.p + p);
}

// The lowering stores one index per operand slot; a pass whose tables would
// not fit is refused with its sizes before anything is allocated.
void check_table_sizes(Pass pass, const ConvGeometry& c) {
  const int64_t gk = pass == Pass::bwd_weight ? c.n * c.ho * c.wo : (pass == Pass::fwd ? c.ci : c.co) * c.kh * c.kw;
  const int64_t m = pass == Pass::bwd_data ? c.ci : c.co;
  const int64_t p = pass == Pass::fwd ? c.n * c.ho * c.wo : pass == Pass::bwd_data ? c.n * c.h * c.w : c.ci * c.kh * c.kw;
  const int64_t entries = std::max({m * gk, p * gk, m * p});
  if (entries > kMaxLoweredEntries)
    throw Error(to_string(pass) + " pass: " + std::to_string(entries) + " operand slots in one table, over the limit of " +
                std::to_string(kMaxLoweredEntries) + " (tensors too large for one layer-pass)");
}

}  // namespace

int64_t LoweredPass::useful_macs() const {
  // X's real slots at (g, k) pair with Y's real slots at (g, k), whatever m and p.
  std::vector<int64_t> x_real(size_t(g * k), 0), y_real(size_t(g * k), 0);
  for (size_t i = 0; i < x_index.size(); ++i) x_real[i % size_t(g * k)] += x_index[i] >= 0;
  for (size_t i = 0; i < y_index.size(); ++i) y_real[i % size_t(g * k)] += y_index[i] >= 0;
  int64_t useful = 0;
  for (size_t gk = 0; gk < x_real.size(); ++gk) useful += x_real[gk] * y_real[gk];
  return useful;
}

LoweredPass lower(Pass pass, const ConvGeometry& geo, const GroupLayout& x_layout, const GroupLayout& y_layout) {
  check_table_sizes(pass, geo);
  LoweredPass lp;
  lp.pass = pass;
  switch (pass) {
    case Pass::fwd: lower_fwd(geo, x_layout, y_layout, lp); break;
    case Pass::bwd_data: lower_bwd_data(geo, x_layout, y_layout, lp); break;
    case Pass::bwd_weight: lower_bwd_weight(geo, x_layout, y_layout, lp); break;
  }
  return lp;
}

}  // namespace mls
