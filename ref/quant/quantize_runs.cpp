// quantize: the reference quantizer's steps (docs/reference.md#the-reference-quantizer)
// walked group run by group run (group_runs.h), bit for bit the tensor of the
// plain walk quantize_reference. One pass finds the group maxima and any
// NaN or Inf (from the floats' bits); the per-group constants (scale,
// divisor) are made once; each element then takes steps 3-6 with its exponent
// read from the bits of x_f and integer rounding (quant_kernels.h, whose AVX2
// kernels take the maxima and the elements of a run of one group).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/quant/group_runs.h"
#include "ref/quant/quant_kernels.h"
#include "ref/quant/quant_walk.h"
#include "ref/quant/quantizer.h"

namespace mls {

namespace {

using quant_detail::ElemSteps;
using quant_detail::GroupRun;
using quant_detail::Span;

// Where the draws come from: nearest reads none, else the random tensor or the counter generator's key.
struct Draws {
  const float* random = nullptr;
  uint64_t key = 0;
};

// A run of consecutive groups (stride 1): element by element, each with its group's divisor.
template <bool kNearest, bool kClip>
void quantize_strided(const GroupRun& run, const float* x, const double* divisor, const ElemSteps k,
                      const Draws& draws, int32_t* sq) {
  const double* d = divisor + run.group;
  for (int64_t i = run.begin; i < run.end; ++i, ++d) {
    const double v = x[i];
    const float r = kNearest ? 0.0f
                             : draws.random ? draws.random[i] : quant_detail::counter_draw(draws.key, uint64_t(i));
    const int64_t mag = quant_detail::magnitude<kNearest, kClip>(std::fabs(v) / *d, r, k);
    const int64_t sign = -int64_t(v < 0);
    sq[i] = static_cast<int32_t>((mag ^ sign) - sign);
  }
}

void quantize_strided(const GroupRun& run, const float* x, const double* divisor, const ElemSteps& k,
                      const Draws& draws, int32_t* sq) {
  if (k.rounding == Rounding::nearest)
    k.clip ? quantize_strided<true, true>(run, x, divisor, k, draws, sq)
           : quantize_strided<true, false>(run, x, divisor, k, draws, sq);
  else
    k.clip ? quantize_strided<false, true>(run, x, divisor, k, draws, sq)
           : quantize_strided<false, false>(run, x, divisor, k, draws, sq);
}

// Steps 3-6 over every element: a run of one group is a span for the
// element kernel, a run of consecutive groups goes element by element.
void quantize_elements(const TensorF& x, const GroupLayout& layout, const std::vector<double>& divisor,
                       const QuantConfig& cfg, const Draws& draws, int threads, int32_t* sq) {
  const ElemSteps k(cfg);
  const quant_detail::SpanFn span = quant_detail::quantize_span();
  const float* data = x.data.data();
  quant_detail::parallel_for(x.size(), threads, [&](int64_t begin, int64_t end) {
    quant_detail::for_each_run(layout, begin, end, [&](const GroupRun& run) {
      if (run.stride == 0)
        span(k, Span{data, draws.random, draws.key, run.begin, run.end, divisor[size_t(run.group)], sq});
      else
        quantize_strided(run, data, divisor.data(), k, draws, sq);
    });
  });
}

// Step 1 in one pass: each group's largest |x| as the bits of a float (for
// finite floats the integer order of |x|'s bits is the order of |x|), and
// whether any element is NaN or Inf (its bits at least those of Inf).
bool group_maxima(const TensorF& x, const GroupLayout& layout, std::vector<uint32_t>& max_bits) {
  const float* data = x.data.data();
  const quant_detail::MaxAbsFn max_abs = quant_detail::max_abs_bits();
  uint32_t all = 0;
  quant_detail::for_each_run(layout, 0, x.size(), [&](const GroupRun& run) {
    uint32_t* m = max_bits.data() + run.group;
    if (run.stride == 0) {
      *m = max_abs(data + run.begin, run.end - run.begin, *m);
      all = std::max(all, *m);
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

// Step 2 (group_scale_for_ratio) with frexp and the ceiling as integer steps
// on the bits of a normal s under the cover rule: s = (1 + F / 2^52) * 2^e,
// c = ceil(F / 2^(52 - M_g)). The fit rule, zero and denormal s by
// group_scale_for_ratio itself.
GroupScale scale_for_ratio(double s, const QuantConfig& cfg) {
  uint64_t bits;
  std::memcpy(&bits, &s, sizeof bits);
  const int biased = int(bits >> 52);
  if (cfg.scale_rule != ScaleRule::cover || s == 0.0 || biased == 0 || biased >= 0x7ff)
    return group_scale_for_ratio(s, cfg.scale, cfg.scale_rule, cfg.elem);
  const int shift = 52 - cfg.scale.m;
  int e = biased - 1023;
  uint64_t c = ((bits & ((uint64_t{1} << 52) - 1)) + (uint64_t{1} << shift) - 1) >> shift;
  if (c == (uint64_t{1} << cfg.scale.m)) {
    c = 0;
    e += 1;
  }
  GroupScale g;
  g.exp = static_cast<int16_t>(std::clamp(e, cfg.scale.min_exp(), 0));
  g.man = static_cast<uint8_t>(c);
  return g;
}

// group_scale_value: (1 + man / 2^M_g) * 2^exp, a normal double (exp >= -255)
// made from its fields.
double scale_value(const ScaleFormat& fmt, GroupScale g) {
  const uint64_t bits = (uint64_t(g.exp + 1023) << 52) | (uint64_t(g.man) << (52 - fmt.m));
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
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
    q.sg[g] = scale_for_ratio(q.s_t == 0.0f ? 0.0 : double(from_bits(max_bits[g])) / double(q.s_t), cfg);
  if (q.s_t == 0.0f) return q;

  std::vector<double> divisor(q.sg.size());
  for (size_t g = 0; g < q.sg.size(); ++g) divisor[g] = double(q.s_t) * scale_value(cfg.scale, q.sg[g]);
  Draws draws;
  if (cfg.rounding == Rounding::stochastic) {
    draws.random = random ? random->data.data() : nullptr;
    draws.key = fnv1a64(name) ^ (cfg.seed * quant_detail::kDrawGamma);
  }
  quantize_elements(x, q.layout, divisor, cfg, draws, threads, q.sq.data());
  return q;
}

}  // namespace mls
