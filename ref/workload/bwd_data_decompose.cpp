#include "ref/workload/bwd_data_decompose.h"

#include <vector>

#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls {

namespace {

int64_t floor_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

// Positions of one axis in phase `ph` (ph, ph + S, ...) below `size`.
int64_t phase_count(int64_t size, int64_t stride, int64_t ph) { return ph < size ? (size - ph + stride - 1) / stride : 0; }

// The taps of one axis that reach E from phase `ph`, ascending.
std::vector<int64_t> phase_taps(int64_t kernel, int64_t stride, int64_t pad, int64_t dil, int64_t ph) {
  std::vector<int64_t> taps;
  for (int64_t k = 0; k < kernel; ++k)
    if (floor_mod(ph + pad - k * dil, stride) == 0) taps.push_back(k);
  return taps;
}

// The non-empty phases (ph, pw), in order.
std::vector<std::pair<int64_t, int64_t>> phases(const ConvGeometry& c) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t ph = 0; ph < c.params.stride_h; ++ph)
    for (int64_t pw = 0; pw < c.params.stride_w; ++pw)
      if (phase_count(c.h, c.params.stride_h, ph) && phase_count(c.w, c.params.stride_w, pw)) out.push_back({ph, pw});
  return out;
}

// The zero-insert-free lowering of one phase: g = co', k = the phase's taps.
template <class TapOf, class EAt>
void fill_group_major(LoweredPass& lp, int64_t taps, TapOf tap_of, EAt e_at, const GroupLayout& xl,
                      const GroupLayout& yl, const ConvGeometry& c, int64_t co0) {
  fill_operand(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of_pair(co0 + g, m); },
               [&](int64_t m, int64_t g, int64_t k) -> int64_t {
                 if (!taps) return -1;
                 const auto [kh, kw] = tap_of(k);
                 return (((co0 + g) * c.cig() + m) * c.kh + kh) * c.kw + kw;
               },
               lp.x_group, lp.x_index);
  // e_at(p, g, ...) is e_at(p, 0, ...) + g planes of E, or -1 for every g.
  const int64_t per_sample = lp.p / c.n, k_count = lp.k, plane = c.ho * c.wo;
  set_separable_y(
      lp,
      [=](int64_t p, int32_t* offsets) {
        const int64_t base = ((p / per_sample) * c.co + co0) * plane;
        for (int64_t k = 0; k < k_count; ++k) {
          int64_t at = -1;
          if (taps) {
            const auto [kh, kw] = tap_of(k);
            at = e_at(p, 0, kh, kw);
          }
          offsets[k] = at < 0 ? -1 : int32_t(at - base);
        }
        return RowBase{base, plane};
      },
      [=](int64_t p, int64_t g) { return yl.group_of_pair(p / per_sample, co0 + g); });
}

}  // namespace

BwdData parse_bwd_data(const std::string& text) {
  if (text == "zero-insert") return BwdData::zero_insert;
  if (text == "decompose") return BwdData::decompose;
  throw Error("unknown bwd-data mapping " + quoted_excerpt(text) + " (expected zero-insert|decompose)");
}

std::string to_string(BwdData b) { return b == BwdData::decompose ? "decompose" : "zero-insert"; }

bool decomposes(const LayerKind& kind) {
  const auto* conv = dynamic_cast<const Conv2d*>(&kind);
  return conv && (conv->params().stride_h > 1 || conv->params().stride_w > 1);
}

int64_t decomposed_blocks(const Conv2d& conv) {
  const ConvGeometry& c = conv.geometry();
  return c.groups() * int64_t(phases(c).size());
}

LoweredPass lower_decomposed_bwd_data(const Conv2d& conv, int64_t block, const GroupLayout& xl,
                                      const GroupLayout& yl) {
  const ConvGeometry& c = conv.geometry();
  const auto& q = c.params;
  const auto ph_list = phases(c);
  if (block < 0 || block >= decomposed_blocks(conv))
    throw Error("conv2d: decomposed block " + std::to_string(block) + " of " + std::to_string(decomposed_blocks(conv)));
  const int64_t group = block / int64_t(ph_list.size());
  // Plain variables, not a structured binding: C++17 lambdas cannot capture one.
  const int64_t ph = ph_list[size_t(block % int64_t(ph_list.size()))].first;
  const int64_t pw = ph_list[size_t(block % int64_t(ph_list.size()))].second;
  const int64_t co0 = group * c.cog(), ci0 = group * c.cig();
  const std::vector<int64_t> th = phase_taps(c.kh, q.stride_h, q.pad_h, q.dil_h, ph);
  const std::vector<int64_t> tw = phase_taps(c.kw, q.stride_w, q.pad_w, q.dil_w, pw);
  const int64_t hp = phase_count(c.h, q.stride_h, ph), wp = phase_count(c.w, q.stride_w, pw);
  const int64_t taps = int64_t(th.size() * tw.size());
  LoweredPass lp;
  lp.pass = Pass::bwd_data;
  lp.m = c.cig(), lp.p = c.n * hp * wp, lp.g = c.cog(), lp.k = taps ? taps : 1;
  lp.out_shape = {c.n, c.ci, c.h, c.w};
  // Both capture by value: the Y rows keep copies of them.
  const auto tap_of = [th, tw](int64_t k) { return std::pair{th[size_t(k) / tw.size()], tw[size_t(k) % tw.size()]}; };
  // E's flat index for tap (kh, kw) of output p and channel co (inside the group), -1 outside E.
  const auto e_at = [=](int64_t p, int64_t co, int64_t kh, int64_t kw) -> int64_t {
    const int64_t n = p / (hp * wp), h = ph + (p / wp % hp) * q.stride_h, w = pw + (p % wp) * q.stride_w;
    const int64_t ho = (h + q.pad_h - kh * q.dil_h) / q.stride_h;  // exact: the tap is in the phase
    const int64_t wo = (w + q.pad_w - kw * q.dil_w) / q.stride_w;
    if (h + q.pad_h - kh * q.dil_h < 0 || w + q.pad_w - kw * q.dil_w < 0 || ho >= c.ho || wo >= c.wo) return -1;
    return ((n * c.co + co0 + co) * c.ho + ho) * c.wo + wo;
  };
  if (blocked_pass(xl, yl, "conv2d bwd-data")) {
    // g = (co' block, phase tap), k = co' inside the block (lowering.h).
    const BlockedReduction red(c.cog(), taps ? taps : 1, xl.group.block_size);
    lp.g = red.g(), lp.k = red.kb;
    check_lowered_entries(Pass::bwd_data, lp.m, lp.p, lp.g * lp.k);
    fill_blocked(lp.m, red, xl,
                 [&](int64_t m, int64_t co, int64_t t) -> int64_t {
                   if (!taps) return -1;
                   const auto [kh, kw] = tap_of(t);
                   return (((co0 + co) * c.cig() + m) * c.kh + kh) * c.kw + kw;
                 },
                 lp.x_group, lp.x_index);
    lp.y_row = blocked_rows(red, yl, [=](int64_t p, int64_t co, int64_t t) -> int64_t {
      if (!taps) return -1;
      const auto [kh, kw] = tap_of(t);
      return e_at(p, co, kh, kw);
    });
  } else {
    check_lowered_entries(Pass::bwd_data, lp.m, lp.p, lp.g * lp.k);
    fill_group_major(lp, taps, tap_of, e_at, xl, yl, c, co0);
  }
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) {
      const int64_t n = p / (hp * wp), h = ph + (p / wp % hp) * q.stride_h, w = pw + (p % wp) * q.stride_w;
      lp.out_index.push_back(((n * c.ci + ci0 + m) * c.h + h) * c.w + w);
    }
  return lp;
}

}  // namespace mls
