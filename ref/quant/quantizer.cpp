#include "ref/quant/quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"

namespace mls {

BlockAxis default_block_axis(const Shape& shape) { return {shape.size() >= 2 ? 1 : 0, 0}; }

GroupLayout::GroupLayout(const Shape& s, Grouping g, BlockAxis block_axis) : group(g), shape(s) {
  d0 = s.empty() ? 1 : s[0];
  d1 = s.size() >= 2 ? s[1] : 1;
  inner = (d0 * d1 == 0) ? 1 : numel(s) / (d0 * d1);
  if (!g.is_block()) return;
  axis = block_axis;
  // A scalar is one block of one element.
  if (s.empty()) return;
  if (axis.dim < 0 || axis.dim >= int(s.size()))
    throw Error("block axis " + std::to_string(axis.dim) + " is not a dim of shape " + shape_str(s));
  along = s[size_t(axis.dim)];
  for (int d = 0; d < axis.dim; ++d) outer *= s[size_t(d)];
  for (size_t d = size_t(axis.dim) + 1; d < s.size(); ++d) after *= s[d];
  segment = axis.segment > 0 ? axis.segment : std::max<int64_t>(along, 1);
  if (along % segment != 0)
    throw Error("block segment " + std::to_string(segment) + " does not divide dim " + std::to_string(axis.dim) +
                " of shape " + shape_str(s));
  seg_blocks = (segment + g.block_size - 1) / g.block_size;
  nblocks = along / segment * seg_blocks;
}

int64_t GroupLayout::groups() const {
  if (group.is_block()) return outer * blocks_along() * after;
  switch (group.kind) {
    case Grouping::nc: return d0 * d1;
    case Grouping::n: return d0;
    case Grouping::c: return d1;
    case Grouping::tensor: return 1;
    case Grouping::block: break;
  }
  return 1;
}

Shape GroupLayout::group_shape() const {
  switch (group.kind) {
    case Grouping::nc: return {d0, d1};
    case Grouping::n: return {d0};
    case Grouping::c: return {d1};
    case Grouping::tensor: return {};
    case Grouping::block: break;
  }
  if (shape.empty()) return {};
  Shape gs = shape;
  gs[size_t(axis.dim)] = blocks_along();
  return gs;
}

int64_t GroupLayout::group_of_pair(int64_t i0, int64_t i1) const {
  switch (group.kind) {
    case Grouping::nc: return i0 * d1 + i1;
    case Grouping::n: return i0;
    case Grouping::c: return i1;
    case Grouping::tensor: return 0;
    case Grouping::block: break;
  }
  throw Error("group_of_pair: a block grouping's groups are not pairs of dims 0 and 1");
}

GroupScale group_scale_for_ratio(double s, const ScaleFormat& fmt) {
  GroupScale g;
  g.exp = static_cast<int16_t>(fmt.min_exp());
  if (s == 0.0) return g;
  int ex = 0;
  const double mant = std::frexp(s, &ex);  // s = mant * 2^ex, mant in [0.5, 1)
  int e = ex - 1;
  const double f = 2.0 * mant - 1.0;       // s = (1 + f) * 2^e
  double c = std::ceil(std::ldexp(f, fmt.m));
  if (c == std::ldexp(1.0, fmt.m)) {
    c = 0;
    e += 1;
  }
  g.exp = static_cast<int16_t>(std::clamp(e, fmt.min_exp(), 0));
  g.man = static_cast<uint8_t>(c);
  return g;
}

double elem_max_value(const ElemFormat& fmt) { return std::ldexp(double(fmt.max_q()), fmt.unit_exp()); }

namespace {

// Representable scales in increasing order, as (exp, man) steps.
GroupScale next_scale_up(GroupScale g, const ScaleFormat& fmt) {
  if (g.man + 1 < (1 << fmt.m)) {
    ++g.man;
  } else {
    g.man = 0;
    ++g.exp;
  }
  return g;
}
GroupScale next_scale_down(GroupScale g, const ScaleFormat& fmt) {
  if (g.man > 0) {
    --g.man;
  } else {
    g.man = static_cast<uint8_t>((1 << fmt.m) - 1);
    --g.exp;
  }
  return g;
}

// The fit rule. t = s / x_max is rounded in double, so the candidate from t
// is moved by exact comparisons of S_g * x_max (a product of small integers
// and powers of two, exact in double) with s.
GroupScale fit_scale(double s, const ScaleFormat& fmt, double x_max) {
  const GroupScale lo{static_cast<int16_t>(fmt.min_exp()), 0};
  const GroupScale hi{0, static_cast<uint8_t>((1 << fmt.m) - 1)};
  const double t = s / x_max;
  GroupScale g = lo;
  if (t >= group_scale_value(fmt, hi)) {
    g = hi;
  } else if (t > group_scale_value(fmt, lo)) {
    int ex = 0;
    const double mant = std::frexp(t, &ex);  // t = (1 + f) * 2^(ex - 1)
    int e = ex - 1;
    double c = std::ceil(std::ldexp(2.0 * mant - 1.0, fmt.m));
    if (c == std::ldexp(1.0, fmt.m)) {
      c = 0;
      e += 1;
    }
    g = {static_cast<int16_t>(e), static_cast<uint8_t>(c)};
  }
  const auto covers = [&](GroupScale c) { return group_scale_value(fmt, c) * x_max >= s; };
  while (!covers(g) && (g.exp != hi.exp || g.man != hi.man)) g = next_scale_up(g, fmt);
  while ((g.exp != lo.exp || g.man != lo.man) && covers(next_scale_down(g, fmt))) g = next_scale_down(g, fmt);
  return g;
}

}  // namespace

GroupScale group_scale_for_ratio(double s, const ScaleFormat& fmt, ScaleRule rule, const ElemFormat& elem) {
  if (rule == ScaleRule::cover || s == 0.0) return group_scale_for_ratio(s, fmt);
  return fit_scale(s, fmt, elem_max_value(elem));
}

namespace {

// x * 2^e as std::ldexp computes it: where 2^e is a normal double, the IEEE
// product by it is the same correctly rounded value (including overflow and
// gradual underflow), without ldexp's call per element (a third of
// quantization in the profile, docs/architecture.md#no-waste-around-the-array).
inline double times_pow2(double x, int e) {
  if (e < -1022 || e > 1023) return std::ldexp(x, e);
  const uint64_t bits = uint64_t(e + 1023) << 52;
  double p;
  std::memcpy(&p, &bits, sizeof p);
  return x * p;
}

// std::ilogb of a positive x: its biased exponent field where x is normal.
inline int ilogb_positive(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int biased = int((bits >> 52) & 0x7ff);
  return biased == 0 || biased == 0x7ff ? std::ilogb(x) : biased - 1023;
}

}  // namespace

int64_t quantize_magnitude(double x_f, const ElemFormat& fmt, Rounding rounding, float r, bool clip) {
  const bool fixed_step = fmt.e == 0 || x_f < times_pow2(1.0, fmt.emin());
  const int step_exp = fixed_step ? fmt.unit_exp() : std::min(ilogb_positive(x_f), -1) - fmt.m;
  const double t = times_pow2(x_f, -step_exp);  // exact: a power-of-two scaling
  double t_rounded = rounding == Rounding::nearest ? std::nearbyint(t)
                                                   : std::floor((t + static_cast<double>(r)) + 0.5);
  if (clip) {
    // The paper keeps the mantissa inside the binade (or denormal range) of x_f.
    const double top = fixed_step ? times_pow2(1.0, fmt.m) - 1 : times_pow2(2.0, fmt.m) - 1;
    t_rounded = std::min(t_rounded, top);
  }
  const int64_t q = static_cast<int64_t>(t_rounded) << (step_exp - fmt.unit_exp());
  return std::min(q, fmt.max_q());
}

void check_finite(const float* values, size_t count, int64_t first, const std::string& name) {
  // NaN and Inf are the values whose exponent bits are all ones: tested on
  // the bits without an early exit, so the loop vectorises; the element is
  // looked for only when one is there.
  uint32_t all_ones = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    all_ones |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
  }
  if (!all_ones) return;
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(values[i]))
      throw Error("tensor '" + name + "': " + (std::isnan(values[i]) ? "NaN" : "Inf") + " at flat index " +
                  std::to_string(first + int64_t(i)));
}

void check_finite(const TensorF& x, const std::string& name) { check_finite(x.data.data(), x.data.size(), 0, name); }

TensorF dequantize(const QuantTensor& q) {
  TensorF out(q.shape);
  for (int64_t i = 0; i < out.size(); ++i) {
    const double scale = double(q.s_t) * q.group_scale(q.layout.group_of(i));
    const double v = std::ldexp(scale * q.sq[static_cast<size_t>(i)], q.elem.unit_exp());
    out.data[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return out;
}

double average_relative_error(const TensorF& x, const TensorF& xq) {
  double sum = 0.0;
  int64_t count = 0;
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (x.data[i] == 0.0f) continue;
    sum += std::fabs(double(xq.data[i]) - double(x.data[i])) / std::fabs(double(x.data[i]));
    ++count;
  }
  return count ? sum / double(count) : 0.0;
}

}  // namespace mls
