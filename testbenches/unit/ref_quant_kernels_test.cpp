// The quantizer's element kernel (ref/quant/quant_kernels.h): the portable
// twin against quantize_magnitude element by element, the counter draws
// against CounterRng, and the AVX2 form against the twin bit for bit, on
// spans of random and edge values (zeros of both signs, denormals, powers of
// two, dyadic values on binade edges and rounding ties, one ulp beside them,
// x_f >= 2) over every element format, rounding, draw source and --clip,
// spans starting and ending off the vector width.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ref/core/rng.h"
#include "ref/quant/quant_kernels.h"
#include "ref/quant/quantizer.h"

namespace {

using mls::QuantConfig;
using mls::Rounding;
using mls::quant_detail::ElemSteps;
using mls::quant_detail::Span;

float edge_value(std::mt19937_64& rng) {
  const int small = int(rng() % 40);
  float v = 0.0f;
  switch (rng() % 8) {
    case 0: v = 0.0f; break;
    case 1: v = std::ldexp(1.0f, -small); break;
    case 2: v = float(rng() % (1 << 14) + 1) * std::ldexp(1.0f, -14 - small / 2); break;
    case 3: v = std::nextafter(float(rng() % 4096 + 1) / 4096.0f, (rng() & 1) ? 2.0f : 0.0f); break;
    case 4: v = std::ldexp(float(rng() % (1 << 20) + 1), -149); break;
    case 5: v = float(rng() % 64 + 1) / 16.0f; break;  // x_f up to 4 with divisor 1
    default: v = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
  }
  return (rng() & 1) ? -v : v;
}

struct Data {
  std::vector<float> x, random;
};

Data span_data(size_t n, std::mt19937_64& rng) {
  Data d;
  for (size_t i = 0; i < n; ++i) {
    d.x.push_back(edge_value(rng));
    const int kind = int(rng() % 4);
    d.random.push_back(kind == 0   ? -0.5f
                       : kind == 1 ? 0.5f - std::ldexp(1.0f, -24)
                       : kind == 2 ? float(int(rng() % 64) - 32) / 64.0f
                                   : std::uniform_real_distribution<float>(-0.5f, 0.5f)(rng));
  }
  return d;
}

const std::vector<double> kDivisors = {1.0, 0.5, 1.5, 1.875, 0.75 * 0x1p-3, 0x1p-20, 3.0, 0x1p-30, 1.125 * 0x1p-7};

std::vector<QuantConfig> configs() {
  std::vector<QuantConfig> out;
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 12; ++m) {
      if (e + m < 1) continue;
      for (int mode = 0; mode < 2; ++mode)
        for (bool clip : {false, true}) {
          QuantConfig c;
          c.elem = {e, m};
          c.rounding = mode == 0 ? Rounding::nearest : Rounding::stochastic;
          c.clip = clip;
          out.push_back(c);
        }
    }
  return out;
}

TEST(ref_quant_kernels, CounterDrawsAreCounterRng) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}}) {
    const mls::CounterRng rng(seed, "layer.weight");
    const uint64_t key = mls::fnv1a64("layer.weight") ^ (seed * mls::quant_detail::kDrawGamma);
    for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{12345}, ~uint64_t{0} - 1})
      EXPECT_EQ(mls::quant_detail::counter_draw(key, i), rng.at(i)) << seed << " " << i;
  }
}

// The twin element by element against quantize_magnitude (the draws from
// the random tensor and from the counter generator).
TEST(ref_quant_kernels, PortableIsQuantizeMagnitude) {
  std::mt19937_64 rng(11);
  const uint64_t key = 0x1234567890abcdefULL;
  for (const QuantConfig& c : configs()) {
    const ElemSteps k(c);
    const Data d = span_data(64, rng);
    for (double divisor : kDivisors) {
      for (bool with_random : {false, true}) {
        std::vector<int32_t> sq(d.x.size(), 7);
        const Span s{d.x.data(), with_random ? d.random.data() : nullptr, key, 0, int64_t(d.x.size()), divisor, sq.data()};
        mls::quant_detail::portable::quantize_span(k, s);
        for (size_t i = 0; i < d.x.size(); ++i) {
          const double v = d.x[i];
          const float r = with_random ? d.random[i] : mls::quant_detail::counter_draw(key, i);
          const int64_t mag = mls::quantize_magnitude(std::fabs(v) / divisor, c.elem, c.rounding, r, c.clip);
          ASSERT_EQ(sq[i], int32_t(v < 0 ? -mag : mag))
              << c.elem.name() << " " << to_string(c.rounding) << (c.clip ? " clip" : "") << " divisor " << divisor
              << " x " << d.x[i] << " r " << r;
        }
      }
    }
  }
}

TEST(ref_quant_kernels, Avx2IsThePortableTwin) {
  const mls::quant_detail::SpanFn avx2 = mls::quant_detail::quantize_span_avx2();
  if (!avx2) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937_64 rng(12);
  size_t compared = 0;
  for (const QuantConfig& c : configs()) {
    const ElemSteps k(c);
    const Data d = span_data(80, rng);
    const uint64_t key = rng();
    for (double divisor : kDivisors) {
      for (bool with_random : {false, true}) {
        // Spans starting and ending on and off multiples of 4, empty to whole.
        for (int64_t begin : {0, 1, 3, 5}) {
          for (int64_t end : {begin, begin + 3, begin + 4, begin + 13, int64_t(d.x.size())}) {
            std::vector<int32_t> want(d.x.size(), 7), got(d.x.size(), 7);
            const float* r = with_random ? d.random.data() : nullptr;
            mls::quant_detail::portable::quantize_span(k, Span{d.x.data(), r, key, begin, end, divisor, want.data()});
            avx2(k, Span{d.x.data(), r, key, begin, end, divisor, got.data()});
            ASSERT_EQ(got, want) << c.elem.name() << " " << to_string(c.rounding) << (c.clip ? " clip" : "")
                                 << (with_random ? " random" : "") << " divisor " << divisor << " [" << begin
                                 << ", " << end << ")";
            ++compared;
          }
        }
      }
    }
  }
  EXPECT_GT(compared, size_t(10000));
}

}  // namespace

namespace {

// The maxima kernel: against |x| taken in float over edge values (finite),
// and the AVX2 form against its twin on any bits (NaN, Inf, both zeros,
// denormals), every length up to 40 and every start.
TEST(ref_quant_kernels, MaxAbsBitsIsTheLargestMagnitude) {
  std::mt19937_64 rng(13);
  const mls::quant_detail::MaxAbsFn avx2 = mls::quant_detail::max_abs_bits_avx2();
  for (int round = 0; round < 200; ++round) {
    std::vector<float> x(size_t(rng() % 41));
    for (float& v : x) v = edge_value(rng);
    float want = 0.0f;
    for (float v : x) want = std::max(want, std::fabs(v));
    const uint32_t got = mls::quant_detail::portable::max_abs_bits(x.data(), int64_t(x.size()), 0);
    float got_f;
    std::memcpy(&got_f, &got, sizeof got_f);
    ASSERT_EQ(got_f, want);
    std::vector<uint32_t> bits(x.size());
    for (uint32_t& b : bits) b = (rng() % 3 == 0) ? uint32_t(rng()) : (rng() % 2 ? 0x7f800000u : 0x80000000u) | uint32_t(rng() % 3);
    std::memcpy(x.data(), bits.data(), bits.size() * sizeof(float));
    const uint32_t start = (rng() % 2) ? 0u : uint32_t(rng()) & 0x7fffffffu;
    if (avx2) {
      ASSERT_EQ(avx2(x.data(), int64_t(x.size()), start),
                mls::quant_detail::portable::max_abs_bits(x.data(), int64_t(x.size()), start))
          << x.size();
    }
  }
}

}  // namespace
