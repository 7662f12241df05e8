#include "ref/workload/conv2d.h"

#include "ref/workload/bwd_data_decompose.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/io/file_io.h"

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

// tap() over both spatial axes of a layer: the input row (column) that output
// row (column) o reads at kernel row (column) k.
struct FwdTaps {
  ConvParams q;
  int64_t h, w;
  int64_t row(int64_t o, int64_t k) const { return tap(o, k, q.stride_h, q.pad_h, q.dil_h, h); }
  int64_t col(int64_t o, int64_t k) const { return tap(o, k, q.stride_w, q.pad_w, q.dil_w, w); }
};

// back_tap() over both axes: the output row (column) whose kernel row (column)
// k reaches input row (column) i.
struct BackTaps {
  ConvParams q;
  int64_t ho, wo;
  int64_t row(int64_t i, int64_t k) const { return back_tap(i, k, q.stride_h, q.pad_h, q.dil_h, ho); }
  int64_t col(int64_t i, int64_t k) const { return back_tap(i, k, q.stride_w, q.pad_w, q.dil_w, wo); }
};

// Padding beyond both the input's extent and the dilated kernel's reach only
// adds outputs that see no input element; refusing it keeps a lowered pass
// within a small multiple of the tensor sizes.
void check_padding(int pad, int dil, int64_t k, int64_t in, const char* side) {
  const int64_t reach = int64_t(dil) * (k - 1);
  if (pad > reach && pad > in)
    throw Error(std::string("padding ") + std::to_string(pad) + " along the " + side + " exceeds both the input's " +
                side + " " + std::to_string(in) + " and the dilated kernel's reach " + std::to_string(reach));
}

void check_params(const ConvParams& prm) {
  if (prm.stride_h < 1 || prm.stride_w < 1 || prm.pad_h < 0 || prm.pad_w < 0 || prm.dil_h < 1 || prm.dil_w < 1 ||
      prm.groups < 1)
    throw Error("stride, dilation and groups must be >= 1 and padding >= 0");
  if (std::max({prm.stride_h, prm.stride_w, prm.pad_h, prm.pad_w, prm.dil_h, prm.dil_w, prm.groups}) > kMaxConvParam)
    throw Error("stride, padding, dilation and groups must be at most " + std::to_string(kMaxConvParam));
}

void check_dims(const Shape& weight, const Shape& input) {
  if (weight.size() != 4) throw Error("weight must have rank 4 [Co, Ci/groups, Kh, Kw], got " + shape_str(weight));
  if (input.size() != 4) throw Error("input must have rank 4 [N, Ci, H, W], got " + shape_str(input));
}

void check_sizes(const Shape& weight, const Shape& input, const ConvGeometry& g) {
  check_no_empty_dim(weight, input);
  const int64_t groups = g.params.groups;
  if (g.co % groups != 0)
    throw Error("groups = " + std::to_string(groups) + " does not divide the weight's Co = " + std::to_string(g.co) +
                " of " + shape_str(weight));
  if (input[1] != weight[1] * groups)
    throw Error("input channels " + std::to_string(input[1]) + " of input " + shape_str(input) +
                " differ from weight's Ci/groups = " + std::to_string(weight[1]) + " times groups = " +
                std::to_string(groups) + " (weight " + shape_str(weight) + ")");
}

}  // namespace

ConvGeometry conv_geometry(const Shape& weight, const Shape& input, const ConvParams& prm,
                           const Shape* grad_output) {
  check_dims(weight, input);
  check_params(prm);
  ConvGeometry g;
  g.params = prm;
  g.co = weight[0], g.ci = input[1], g.kh = weight[2], g.kw = weight[3];
  g.n = input[0], g.h = input[2], g.w = input[3];
  check_sizes(weight, input, g);
  check_padding(prm.pad_h, prm.dil_h, g.kh, g.h, "height");
  check_padding(prm.pad_w, prm.dil_w, g.kw, g.w, "width");
  g.ho = out_size(g.h, g.kh, prm.pad_h, prm.stride_h, prm.dil_h);
  g.wo = out_size(g.w, g.kw, prm.pad_w, prm.stride_w, prm.dil_w);
  if (g.ho < 1 || g.wo < 1)
    throw Error("kernel " + shape_str(weight) + " does not fit input " + shape_str(input) + " with this padding");
  check_grad_output_shape(grad_output, {g.n, g.co, g.ho, g.wo}, weight, input);
  check_element_limit({numel(input), numel(weight), g.n * g.co * g.ho * g.wo});
  return g;
}

// ---- the manifest entry -----------------------------------------------------

std::vector<std::string> Conv2d::manifest_keys() { return {"stride", "padding", "dilation", "groups"}; }

ConvParams conv_params_from_manifest(const nlohmann::json& entry, const std::string& where) {
  const auto stride = manifest_int_pair(entry, "stride", 1, 1, kMaxConvParam, where);
  const auto padding = manifest_int_pair(entry, "padding", 0, 0, kMaxConvParam, where);
  const auto dilation = manifest_int_pair(entry, "dilation", 1, 1, kMaxConvParam, where);
  const int groups = manifest_int(entry, "groups", 1, 1, kMaxConvParam, where);
  return ConvParams{stride.first, stride.second, padding.first, padding.second, dilation.first, dilation.second,
                    groups};
}

std::unique_ptr<LayerKind> Conv2d::from_manifest(const nlohmann::json& entry, const std::string& where) {
  return std::make_unique<Conv2d>(conv_params_from_manifest(entry, where));
}

// The output [N, Co, Ho, Wo] of a synthesized conv2d layer.
static Shape synth_output_shape(const Shape& weight, const Shape& input, const nlohmann::json& entry,
                         const std::string& where) {
  const ConvParams p = conv_params_from_manifest(entry, where);
  const int stride[2] = {p.stride_h, p.stride_w}, padding[2] = {p.pad_h, p.pad_w}, dilation[2] = {p.dil_h, p.dil_w};
  Shape out = {input[0], weight[0]};
  for (int d = 0; d < 2; ++d) {
    const int64_t span = int64_t(dilation[d]) * (weight[2 + d] - 1) + 1;
    const int64_t padded = input[2 + d] + 2 * int64_t(padding[d]);
    if (padded < span)
      throw Error(where + ": the " + (d ? "width" : "height") + " with padding, " + std::to_string(padded) +
                  ", is smaller than the kernel's span " + std::to_string(span));
    out.push_back((padded - span) / stride[d] + 1);
  }
  return out;
}

const SynthRules Conv2d::kSynth = {4, 4, "weight", 3, 3, "input (without the batch)",
                                   true, true, false, true, &synth_output_shape};

int64_t Conv2d::blocks(Pass) const { return geometry().groups(); }

void Conv2d::bind(const Shape& weight, const Shape& input, const Shape* grad_output) {
  geo_.set(conv_geometry(weight, input, params_, grad_output));
}

// ---- lowering: the docs/reference.md#lowering-to-a-grouped-product table ----

namespace {

// Block j of a grouped conv: its first output and input channel.
struct Block {
  int64_t co0 = 0, ci0 = 0;
};

Block block_of(const ConvGeometry& c, int64_t j) { return {j * c.cog(), j * c.cig()}; }

// Out[m, p] with p = (n, spatial) lands in an [N, channels, plane] output at
// channel c0 + m: the output layout of the forward and backward-data passes.
void fill_nchw_out(LoweredPass& lp, int64_t channels, int64_t c0, int64_t plane) {
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back((p / plane * channels + c0 + m) * plane + p % plane);
}

// The Y rows of the forward and backward-data passes: row p = (n, y, x) on a
// grid of `rows` x `cols` positions, slot (g, k = (kh, kw)) the element of
// channel c0 + g of an [N, channels, h, w] tensor at (tap_h(y, kh), tap_w(x, kw)),
// a zero tap where either is -1; group g's scale is that of (n, c0 + g).
struct Grid {
  int64_t rows, cols;
};
struct Planes {
  int64_t channels, c0, h, w;
};
template <class Taps>
void set_grid_rows(LoweredPass& lp, const ConvGeometry& c, Grid grid, Planes t, const GroupLayout& layout, Taps taps) {
  const int64_t kh = c.kh, kw = c.kw, per_sample = grid.rows * grid.cols;
  set_separable_y(
      lp,
      [=](int64_t p, int32_t* offsets) {
        const int64_t n = p / per_sample, y = p / grid.cols % grid.rows, x = p % grid.cols;
        // Every generated row of Y starts here: kw column taps, then kh rows
        // of them, not kh * kw of each with a division apiece. The column
        // taps wait in the last kernel row's slots, which are written last.
        int32_t* cols = offsets + (kh - 1) * kw;
        for (int64_t b = 0; b < kw; ++b) cols[b] = int32_t(taps.col(x, b));
        for (int64_t a = 0; a < kh; ++a) {
          const int64_t i = taps.row(y, a);
          int32_t* out = offsets + a * kw;
          for (int64_t b = 0; b < kw; ++b) out[b] = i < 0 || cols[b] < 0 ? -1 : int32_t(i * t.w + cols[b]);
        }
        return RowBase{(n * t.channels + t.c0) * t.h * t.w, t.h * t.w};
      },
      [=](int64_t p, int64_t g) { return layout.group_of_pair(p / per_sample, t.c0 + g); });
}

// The same rows under a block grouping (lowering.h): slot (g = (channel
// block, tap), k = channel in the block) reads channel c0 + c of the tensor at
// tap t's (tap_h(y, kh), tap_w(x, kw)).
template <class Taps>
RowFill grid_blocked_rows(const ConvGeometry& c, const BlockedReduction& red, Grid grid, Planes t,
                          const GroupLayout& layout, Taps taps) {
  const int64_t kw = c.kw, per_sample = grid.rows * grid.cols;
  return blocked_rows(red, layout, [=](int64_t p, int64_t ch, int64_t tap) -> int64_t {
    const int64_t n = p / per_sample, y = p / grid.cols % grid.rows, x = p % grid.cols;
    const int64_t i = taps.row(y, tap / kw), j = taps.col(x, tap % kw);
    return i < 0 || j < 0 ? -1 : ((n * t.channels + t.c0 + ch) * t.h + i) * t.w + j;
  });
}

// X = W[co = co0 + m, ci' = g, (kh, kw) = k]; Y = A[n, ci0 + g, ho*S - P + kh*D, wo*S - P + kw*D], p = (n, ho, wo).
void lower_fwd(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl, LoweredPass& lp) {
  lp.m = c.cog(), lp.p = c.n * c.ho * c.wo, lp.g = c.cig(), lp.k = c.kh * c.kw;
  lp.out_shape = {c.n, c.co, c.ho, c.wo};
  fill_operand(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(b.co0 + m, g); },
               [&](int64_t m, int64_t g, int64_t k) { return ((b.co0 + m) * c.cig() + g) * lp.k + k; }, lp.x_group,
               lp.x_index);
  // Row p = (n, ho, wo) on the output grid reads input channel ci0 + g at tap (h, w).
  set_grid_rows(lp, c, {c.ho, c.wo}, {c.ci, b.ci0, c.h, c.w}, yl, FwdTaps{c.params, c.h, c.w});
  fill_nchw_out(lp, c.co, b.co0, c.ho * c.wo);
}

// X = W[co = co0 + g, ci' = m, (kh, kw) = k]; Y = E[n, co0 + g, (h + P - kh*D) / S, (w + P - kw*D) / S]
// with p = (n, h, w), a zero tap where the division is not exact.
void lower_bwd_data(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl, LoweredPass& lp) {
  lp.m = c.cig(), lp.p = c.n * c.h * c.w, lp.g = c.cog(), lp.k = c.kh * c.kw;
  lp.out_shape = {c.n, c.ci, c.h, c.w};
  fill_operand(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(b.co0 + g, m); },
               [&](int64_t m, int64_t g, int64_t k) { return ((b.co0 + g) * c.cig() + m) * lp.k + k; }, lp.x_group,
               lp.x_index);
  // Row p = (n, h, w) on the input grid reads error channel co0 + g at the output (ho, wo) tap k reaches.
  set_grid_rows(lp, c, {c.h, c.w}, {c.co, b.co0, c.ho, c.wo}, yl, BackTaps{c.params, c.ho, c.wo});
  fill_nchw_out(lp, c.ci, b.ci0, c.h * c.w);
}

// X = E[n = g, co0 + m, (ho, wo) = k]; Y = A[n = g, ci0 + ci', ho*S - P + kh*D, wo*S - P + kw*D],
// p = (ci', kh, kw).
void lower_bwd_weight(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl,
                      LoweredPass& lp) {
  const FwdTaps taps{c.params, c.h, c.w};
  lp.m = c.cog(), lp.p = c.cig() * c.kh * c.kw, lp.g = c.n, lp.k = c.ho * c.wo;
  lp.out_shape = {c.co, c.cig(), c.kh, c.kw};
  fill_operand(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(g, b.co0 + m); },
               [&](int64_t m, int64_t g, int64_t k) { return (g * c.co + b.co0 + m) * lp.k + k; }, lp.x_group,
               lp.x_index);
  // Slot (g = n, k = (ho, wo)) of row p = (ci', kh, kw): input plane (n, ci0 + ci'), tap (h, w).
  set_separable_y(
      lp,
      [=](int64_t p, int32_t* offsets) {
        const int64_t ci = b.ci0 + p / (c.kh * c.kw), kh = p / c.kw % c.kh, kw = p % c.kw;
        // The wo column taps once, in the last output row's slots (written
        // last), as in set_grid_rows.
        int32_t* cols = offsets + (c.ho - 1) * c.wo;
        for (int64_t wo = 0; wo < c.wo; ++wo) cols[wo] = int32_t(taps.col(wo, kw));
        for (int64_t ho = 0; ho < c.ho; ++ho) {
          const int64_t h = taps.row(ho, kh);
          int32_t* out = offsets + ho * c.wo;
          for (int64_t wo = 0; wo < c.wo; ++wo) out[wo] = h < 0 || cols[wo] < 0 ? -1 : int32_t(h * c.w + cols[wo]);
        }
        return RowBase{ci * c.h * c.w, c.ci * c.h * c.w};
      },
      [=](int64_t p, int64_t g) { return yl.group_of_pair(g, b.ci0 + p / (c.kh * c.kw)); });
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back((b.co0 + m) * lp.p + p);
}

// Block groupings: the same three passes with the reduction's channel (fwd:
// ci', bwd-data: co') or batch (bwd-weight: n) index cut into blocks of B,
// g = (block, kernel tap or output position), k = the index inside its block.
void lower_fwd_blocked(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl,
                       LoweredPass& lp) {
  const BlockedReduction red(c.cig(), c.kh * c.kw, xl.group.block_size);
  lp.m = c.cog(), lp.p = c.n * c.ho * c.wo, lp.g = red.g(), lp.k = red.kb;
  lp.out_shape = {c.n, c.co, c.ho, c.wo};
  fill_blocked(lp.m, red, xl, [&](int64_t m, int64_t ci, int64_t t) { return ((b.co0 + m) * c.cig() + ci) * red.taps + t; },
               lp.x_group, lp.x_index);
  lp.y_row = grid_blocked_rows(c, red, {c.ho, c.wo}, {c.ci, b.ci0, c.h, c.w}, yl, FwdTaps{c.params, c.h, c.w});
  fill_nchw_out(lp, c.co, b.co0, c.ho * c.wo);
}

void lower_bwd_data_blocked(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl,
                            LoweredPass& lp) {
  const BlockedReduction red(c.cog(), c.kh * c.kw, xl.group.block_size);
  lp.m = c.cig(), lp.p = c.n * c.h * c.w, lp.g = red.g(), lp.k = red.kb;
  lp.out_shape = {c.n, c.ci, c.h, c.w};
  fill_blocked(lp.m, red, xl, [&](int64_t m, int64_t co, int64_t t) { return ((b.co0 + co) * c.cig() + m) * red.taps + t; },
               lp.x_group, lp.x_index);
  lp.y_row = grid_blocked_rows(c, red, {c.h, c.w}, {c.co, b.co0, c.ho, c.wo}, yl, BackTaps{c.params, c.ho, c.wo});
  fill_nchw_out(lp, c.ci, b.ci0, c.h * c.w);
}

void lower_bwd_weight_blocked(const ConvGeometry& c, Block b, const GroupLayout& xl, const GroupLayout& yl,
                              LoweredPass& lp) {
  const FwdTaps taps{c.params, c.h, c.w};
  const BlockedReduction red(c.n, c.ho * c.wo, xl.group.block_size);
  lp.m = c.cog(), lp.p = c.cig() * c.kh * c.kw, lp.g = red.g(), lp.k = red.kb;
  lp.out_shape = {c.co, c.cig(), c.kh, c.kw};
  fill_blocked(lp.m, red, xl, [&](int64_t m, int64_t n, int64_t t) { return (n * c.co + b.co0 + m) * red.taps + t; },
               lp.x_group, lp.x_index);
  lp.y_row = blocked_rows(red, yl,
               [=](int64_t p, int64_t n, int64_t t) -> int64_t {
                 const int64_t ci = b.ci0 + p / (c.kh * c.kw), kh = p / c.kw % c.kh, kw = p % c.kw;
                 const int64_t h = taps.row(t / c.wo, kh), w = taps.col(t % c.wo, kw);
                 return h < 0 || w < 0 ? -1 : ((n * c.ci + ci) * c.h + h) * c.w + w;
               });
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back((b.co0 + m) * lp.p + p);
}

// The sizes (m, p, g * k) of one block of a pass, known before anything is allocated.
// A block grouping of B pads the blocked index (ci', co' or n) to whole blocks.
void check_table_sizes(Pass pass, const ConvGeometry& c, int block_size) {
  const auto padded = [&](int64_t len) {
    if (!block_size) return len;
    const BlockedReduction red(len, 1, block_size);
    return red.nb * red.kb;
  };
  const int64_t gk = pass == Pass::bwd_weight ? padded(c.n) * c.ho * c.wo
                                              : padded(pass == Pass::fwd ? c.cig() : c.cog()) * c.kh * c.kw;
  const int64_t m = pass == Pass::bwd_data ? c.cig() : c.cog();
  const int64_t p = pass == Pass::fwd        ? c.n * c.ho * c.wo
                    : pass == Pass::bwd_data ? c.n * c.h * c.w
                                             : c.cig() * c.kh * c.kw;
  check_lowered_entries(pass, m, p, gk);
}

}  // namespace

LoweredPass Conv2d::lower(Pass pass, int64_t block, const GroupLayout& x_layout, const GroupLayout& y_layout) const {
  const ConvGeometry& geo = geometry();
  if (block < 0 || block >= geo.groups())
    throw Error("conv2d: block " + std::to_string(block) + " of " + std::to_string(geo.groups()));
  const bool blocked = blocked_pass(x_layout, y_layout, "conv2d " + to_string(pass));
  check_table_sizes(pass, geo, blocked ? x_layout.group.block_size : 0);
  const Block b = block_of(geo, block);
  LoweredPass lp;
  lp.pass = pass;
  if (blocked) {
    switch (pass) {
      case Pass::fwd: lower_fwd_blocked(geo, b, x_layout, y_layout, lp); break;
      case Pass::bwd_data: lower_bwd_data_blocked(geo, b, x_layout, y_layout, lp); break;
      case Pass::bwd_weight: lower_bwd_weight_blocked(geo, b, x_layout, y_layout, lp); break;
    }
    return lp;
  }
  switch (pass) {
    case Pass::fwd: lower_fwd(geo, b, x_layout, y_layout, lp); break;
    case Pass::bwd_data: lower_bwd_data(geo, b, x_layout, y_layout, lp); break;
    case Pass::bwd_weight: lower_bwd_weight(geo, b, x_layout, y_layout, lp); break;
  }
  return lp;
}

LayerKind::ProductSize Conv2d::product_size(Pass pass) const {
  const ConvGeometry& c = geometry();
  switch (pass) {
    case Pass::fwd: return {c.cog(), c.n * c.ho * c.wo, c.cig() * c.kh * c.kw};
    case Pass::bwd_data: return {c.cig(), c.n * c.h * c.w, c.cog() * c.kh * c.kw};
    case Pass::bwd_weight: break;
  }
  return {c.cog(), c.cig() * c.kh * c.kw, c.n * c.ho * c.wo};
}

// X and Y of each pass are blocked along the reduction's channel or batch
// dim, in segments of one channel group so no block straddles two groups.
BlockAxis Conv2d::block_axis(Pass pass, bool x_side) const {
  const ConvGeometry& c = geometry();
  switch (pass) {
    case Pass::fwd: return x_side ? BlockAxis{1, 0} : BlockAxis{1, c.cig()};  // W [Co, Ci', ..], A [N, Ci, ..]
    case Pass::bwd_data: return x_side ? BlockAxis{0, c.cog()} : BlockAxis{1, c.cog()};  // W, E [N, Co, ..]
    case Pass::bwd_weight: break;
  }
  return BlockAxis{0, 0};  // E [N, ..] and A [N, ..]: the batch
}

// ---- reference: the passes from their definitions, in double ---------------

std::vector<double> Conv2d::reference(Pass pass, const TensorF& W, const TensorF& A, const TensorF* E) const {
  const ConvGeometry& c = geometry();
  const ConvParams& q = c.params;
  if (pass != Pass::fwd && !E) throw Error(to_string(pass) + " reference needs grad_output");
  const size_t out_size = pass == Pass::fwd        ? size_t(c.n * c.co * c.ho * c.wo)
                          : pass == Pass::bwd_data ? size_t(c.n * c.ci * c.h * c.w)
                                                   : size_t(c.co * c.cig() * c.kh * c.kw);
  std::vector<double> out(out_size, 0.0);
  // Every (n, co, ho, wo, ci', kh, kw) tap of the forward conv contributes to
  // exactly one element of each pass's result; ci' runs over co's group.
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t co = 0; co < c.co; ++co)
      for (int64_t ho = 0; ho < c.ho; ++ho)
        for (int64_t wo = 0; wo < c.wo; ++wo)
          for (int64_t cl = 0; cl < c.cig(); ++cl)
            for (int64_t kh = 0; kh < c.kh; ++kh)
              for (int64_t kw = 0; kw < c.kw; ++kw) {
                const int64_t h = ho * q.stride_h - q.pad_h + kh * q.dil_h;
                const int64_t w = wo * q.stride_w - q.pad_w + kw * q.dil_w;
                if (h < 0 || h >= c.h || w < 0 || w >= c.w) continue;
                const int64_t ci = co / c.cog() * c.cig() + cl;
                const double wv = W.data[size_t(((co * c.cig() + cl) * c.kh + kh) * c.kw + kw)];
                const double av = A.data[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)];
                if (pass == Pass::fwd) {
                  out[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)] += wv * av;
                  continue;
                }
                const double ev = E->data[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)];
                if (pass == Pass::bwd_data) out[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)] += wv * ev;
                else out[size_t(((co * c.cig() + cl) * c.kh + kh) * c.kw + kw)] += ev * av;
              }
  return out;
}

}  // namespace mls

namespace mls {

namespace {

bool decomposed(const Conv2d& conv, Pass pass, BwdData bwd_data) {
  return bwd_data == BwdData::decompose && pass == Pass::bwd_data && decomposes(conv);
}

}  // namespace

int64_t Conv2d::blocks_with(Pass pass, BwdData bwd_data) const {
  return decomposed(*this, pass, bwd_data) ? decomposed_blocks(*this) : blocks(pass);
}

LoweredPass Conv2d::lower_with(Pass pass, BwdData bwd_data, int64_t block, const GroupLayout& x_layout,
                               const GroupLayout& y_layout) const {
  if (decomposed(*this, pass, bwd_data)) return lower_decomposed_bwd_data(*this, block, x_layout, y_layout);
  return lower(pass, block, x_layout, y_layout);
}

LayerKind::ProductSize Conv2d::planned_size(Pass pass, BwdData bwd_data) const {
  ProductSize size = product_size(pass);
  if (decomposed(*this, pass, bwd_data))
    size.r = std::max<int64_t>(1, size.r / (int64_t(params_.stride_h) * params_.stride_w));
  return size;
}

}  // namespace mls
