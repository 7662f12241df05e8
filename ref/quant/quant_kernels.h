#pragma once
// The quantizer's element kernel: steps 3-6 of docs/reference.md#the-reference-quantizer
// over a span of elements of one group, bit for bit quantize_magnitude's
// result. An AVX2 form (4 elements a step) and its portable twin, picked once
// at run time; ref_quant_kernels_test holds them to each other and to
// quantize_magnitude on random and edge inputs.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ref/core/config.h"
#include "ref/format/format.h"

namespace mls::quant_detail {

// Steps 4-6 of one element format, as constants.
struct ElemSteps {
  ElemFormat fmt;
  Rounding rounding = Rounding::nearest;
  bool clip = false;
  int emin = 0;         // floor(log2 x_f) is clamped to [emin, top_exp] ...
  int top_exp = -1;     // ... -1, or emin when E_x = 0 (one fixed step)
  int fixed_below = 0;  // x_f with floor(log2 x_f) below this takes the fixed step u
  int64_t max_q = 0, top_fixed = 0, top_binade = 0;

  ElemSteps() = default;
  explicit ElemSteps(const QuantConfig& cfg);
};

// q of an x_f >= 2 (never from quantize, whose x_f <= 1): quantize_magnitude itself.
int64_t magnitude_outside(double x_f, float r, ElemSteps k);

// q of x_f in [0, 2) as quantize_magnitude computes it: step_exp =
// clamp(floor(log2 x_f), emin, top_exp) - M_x, t = x_f * 2^-step_exp the
// same IEEE product, rounded half to even by adding and taking away 2^52
// (t < 2^14), or floor((t + r) + 0.5) by truncation (the sum is >= 0).
// x_f of a zero or a denormal double has exponent field 0, below emin.
template <bool kNearest, bool kClip>
inline int64_t magnitude(double x_f, float r, const ElemSteps& k) {
  uint64_t bits;
  std::memcpy(&bits, &x_f, sizeof bits);
  const int ex = int(bits >> 52) - 1023;
  if (ex > 0) return magnitude_outside(x_f, r, k);
  const int le = std::min(std::max(ex, k.emin), k.top_exp);
  const uint64_t scale_bits = uint64_t(k.fmt.m - le + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const double t = x_f * scale;
  int64_t t_rounded = kNearest ? int64_t((t + 0x1p52) - 0x1p52) : int64_t((t + double(r)) + 0.5);
  if (kClip) t_rounded = std::min(t_rounded, ex < k.fixed_below ? k.top_fixed : k.top_binade);
  return std::min(t_rounded << (le - k.emin), k.max_q);
}

// The stochastic draw of flat index i under the counter generator's key
// (docs/reference.md#stochastic-rounding; CounterRng::at for the key
// fnv1a64(name) ^ (seed * gamma)).
constexpr uint64_t kDrawGamma = 0x9E3779B97F4A7C15ULL;
inline float counter_draw(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * kDrawGamma;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<float>(static_cast<double>(z >> 40) * 0x1p-24 - 0.5);
}

// One span: sq[i] = sign(x[i]) * q for i in [begin, end), every element of
// one group, x_f = |x[i]| / divisor. Draws from `random[i]` when given, else
// from the counter generator's `key` (nearest rounding reads neither).
struct Span {
  const float* x = nullptr;
  const float* random = nullptr;
  uint64_t key = 0;
  int64_t begin = 0, end = 0;
  double divisor = 1.0;
  int32_t* sq = nullptr;
};

using SpanFn = void (*)(const ElemSteps& k, const Span& s);

// Step 1 over n floats: the largest of their bits with the sign cleared,
// start as the first value (for finite floats the integer order of these bits
// is the order of |x|; a NaN or Inf gives at least 0x7f800000).
using MaxAbsFn = uint32_t (*)(const float* x, int64_t n, uint32_t start);

namespace portable {
void quantize_span(const ElemSteps& k, const Span& s);
uint32_t max_abs_bits(const float* x, int64_t n, uint32_t start);
}  // namespace portable

// The AVX2 forms, or nullptr where the CPU has no AVX2.
SpanFn quantize_span_avx2();
MaxAbsFn max_abs_bits_avx2();
// The forms picked for this CPU.
SpanFn quantize_span();
MaxAbsFn max_abs_bits();

}  // namespace mls::quant_detail
