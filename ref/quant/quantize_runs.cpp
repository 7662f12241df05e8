// quantize: the reference quantizer's steps (docs/reference.md#the-reference-quantizer)
// walked group run by group run (group_runs.h), bit for bit the tensor of the
// plain walk quantize_reference. One pass finds the group maxima and any
// NaN or Inf (from the floats' bits); the per-group constants (scale,
// divisor) are made once; each element then takes steps 3-6 with its exponent
// read from the bits of x_f and integer rounding, where quantize_magnitude
// calls frexp-like helpers and rounds in double.
#include <cmath>
#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/quant/group_runs.h"
#include "ref/quant/quant_walk.h"
#include "ref/quant/quantizer.h"

namespace mls {

namespace {

using quant_detail::GroupRun;

// Steps 4-6 of one element format, as constants.
struct ElemSteps {
  ElemFormat fmt;
  Rounding rounding = Rounding::nearest;
  bool clip = false;
  int emin = 0;         // floor(log2 x_f) is clamped to [emin, top_exp] ...
  int top_exp = -1;     // ... -1, or emin when E_x = 0 (one fixed step)
  int fixed_below = 0;  // x_f with floor(log2 x_f) below this takes the fixed step u
  int64_t max_q = 0, top_fixed = 0, top_binade = 0;

  ElemSteps(const QuantConfig& cfg) : fmt(cfg.elem), rounding(cfg.rounding), clip(cfg.clip) {
    emin = fmt.emin();
    top_exp = fmt.e == 0 ? emin : -1;
    fixed_below = fmt.e == 0 ? 1 : emin;
    max_q = fmt.max_q();
    top_fixed = (int64_t{1} << fmt.m) - 1;
    top_binade = (int64_t{2} << fmt.m) - 1;
  }
};

// q of x_f in [0, 2) as quantize_magnitude computes it: step_exp =
// clamp(floor(log2 x_f), emin, top_exp) - M_x, t = x_f * 2^-step_exp the
// same IEEE product, rounded half to even by adding and taking away 2^52
// (t < 2^14), or floor((t + r) + 0.5) by truncation (the sum is >= 0).
// x_f of a zero or a denormal double has exponent field 0, below emin.
template <bool kNearest>
inline int64_t magnitude(double x_f, float r, const ElemSteps& k) {
  uint64_t bits;
  std::memcpy(&bits, &x_f, sizeof bits);
  const int ex = int(bits >> 52) - 1023;
  if (ex > 0) return quantize_magnitude(x_f, k.fmt, k.rounding, r, k.clip);  // x_f >= 2: not from quantize
  const int le = std::min(std::max(ex, k.emin), k.top_exp);
  const uint64_t scale_bits = uint64_t(k.fmt.m - le + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const double t = x_f * scale;
  int64_t t_rounded = kNearest ? int64_t((t + 0x1p52) - 0x1p52) : int64_t((t + double(r)) + 0.5);
  if (k.clip) t_rounded = std::min(t_rounded, ex < k.fixed_below ? k.top_fixed : k.top_binade);
  return std::min(t_rounded << (le - k.emin), k.max_q);
}

struct CounterDraws {
  CounterRng rng;
  float operator()(int64_t i) const { return rng.at(static_cast<uint64_t>(i)); }
};
struct TensorDraws {
  const float* r;
  float operator()(int64_t i) const { return r[i]; }
};

template <bool kNearest, class Draws>
void quantize_run(const GroupRun& run, const float* x, const double* divisor, const ElemSteps& k,
                  const Draws& draws, int32_t* sq) {
  const double* d = divisor + run.group;
  for (int64_t i = run.begin; i < run.end; ++i, d += run.stride) {
    const double v = x[i];
    const float r = kNearest ? 0.0f : draws(i);
    const int64_t mag = magnitude<kNearest>(std::fabs(v) / *d, r, k);
    sq[i] = static_cast<int32_t>(v < 0 ? -mag : mag);
  }
}

template <bool kNearest, class Draws>
void quantize_elements(const TensorF& x, const GroupLayout& layout, const std::vector<double>& divisor,
                       const ElemSteps& k, const Draws& draws, int threads, int32_t* sq) {
  quant_detail::parallel_for(x.size(), threads, [&](int64_t begin, int64_t end) {
    quant_detail::for_each_run(layout, begin, end, [&](const GroupRun& run) {
      quantize_run<kNearest>(run, x.data.data(), divisor.data(), k, draws, sq);
    });
  });
}

// Step 1 in one pass: each group's largest |x| as the bits of a float (for
// finite floats the integer order of |x|'s bits is the order of |x|), and
// whether any element is NaN or Inf (its bits at least those of Inf).
bool group_maxima(const TensorF& x, const GroupLayout& layout, std::vector<uint32_t>& max_bits) {
  const float* data = x.data.data();
  uint32_t all = 0;
  quant_detail::for_each_run(layout, 0, x.size(), [&](const GroupRun& run) {
    uint32_t* m = max_bits.data() + run.group;
    if (run.stride == 0) {
      uint32_t best = *m;
      for (int64_t i = run.begin; i < run.end; ++i) {
        uint32_t b;
        std::memcpy(&b, data + i, sizeof b);
        best = std::max(best, b & 0x7fffffffu);
      }
      *m = best;
      all = std::max(all, best);
      return;
    }
    for (int64_t i = run.begin; i < run.end; ++i, ++m) {
      uint32_t b;
      std::memcpy(&b, data + i, sizeof b);
      *m = std::max(*m, b & 0x7fffffffu);
      all = std::max(all, *m);
    }
  });
  return all < 0x7f800000u;
}

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// The layout, or the error quantize_reference would give first: a NaN or Inf,
// then a bad random tensor, then the layout's own.
GroupLayout checked_layout(const TensorF& x, const std::string& name, const QuantConfig& cfg, const BlockAxis& axis,
                           const TensorF* random) {
  try {
    return GroupLayout(x.shape, cfg.group, axis);
  } catch (const Error&) {
    check_finite(x, name);
    if (random) quant_detail::check_random(x, *random, name);
    throw;
  }
}

}  // namespace

QuantTensor quantize(const TensorF& x, const std::string& name, const QuantConfig& cfg,
                     const TensorF* random, int threads) {
  return quantize(x, name, cfg, default_block_axis(x.shape), random, threads);
}

QuantTensor quantize(const TensorF& x, const std::string& name, const QuantConfig& cfg, const BlockAxis& axis,
                     const TensorF* random, int threads) {
  QuantTensor q;
  q.layout = checked_layout(x, name, cfg, axis, random);
  std::vector<uint32_t> max_bits(static_cast<size_t>(q.layout.groups()), 0);
  if (!group_maxima(x, q.layout, max_bits)) check_finite(x, name);
  if (random) quant_detail::check_random(x, *random, name);
  q.name = name;
  q.shape = x.shape;
  q.elem = cfg.elem;
  q.scale = cfg.scale;
  q.sq.assign(x.data.size(), 0);
  for (uint32_t b : max_bits) q.s_t = std::max(q.s_t, from_bits(b));
  q.sg.resize(max_bits.size());
  for (size_t g = 0; g < max_bits.size(); ++g)
    q.sg[g] = group_scale_for_ratio(q.s_t == 0.0f ? 0.0 : double(from_bits(max_bits[g])) / double(q.s_t),
                                    cfg.scale, cfg.scale_rule, cfg.elem);
  if (q.s_t == 0.0f) return q;

  std::vector<double> divisor(q.sg.size());
  for (size_t g = 0; g < q.sg.size(); ++g) divisor[g] = double(q.s_t) * q.group_scale(int64_t(g));
  const ElemSteps k(cfg);
  int32_t* sq = q.sq.data();
  if (cfg.rounding == Rounding::nearest)
    quantize_elements<true>(x, q.layout, divisor, k, TensorDraws{nullptr}, threads, sq);
  else if (random)
    quantize_elements<false>(x, q.layout, divisor, k, TensorDraws{random->data.data()}, threads, sq);
  else
    quantize_elements<false>(x, q.layout, divisor, k, CounterDraws{CounterRng(cfg.seed, name)}, threads, sq);
  return q;
}

}  // namespace mls
