// The reference quantizer (docs/reference.md#the-reference-quantizer) on whole tensors: grouping, group scales,
// error bounds, stochastic rounding statistics and reproducibility, zeros and
// bad inputs. Every expectation is computed here from docs/reference.md, in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ref/core/error.h"
#include "ref/quant/quantizer.h"
#include "ref/core/rng.h"
#include "testbenches/unit/test_formats.h"

namespace {

using mls::test::efmt;
using mls::test::sfmt;


using mls::ElemFormat;
using mls::Grouping;
using mls::QuantConfig;
using mls::QuantTensor;
using mls::Rounding;
using mls::ScaleFormat;
using mls::Shape;
using mls::TensorF;


QuantConfig config(ElemFormat elem, ScaleFormat scale, Grouping g, Rounding r, uint64_t seed = 0, bool clip = false) {
  QuantConfig c;
  c.elem = elem;
  c.scale = scale;
  c.group = g;
  c.rounding = r;
  c.seed = seed;
  c.clip = clip;
  return c;
}

// ---- the reference, written out independently ------------------------------------

// docs/reference.md#the-reference-quantizer grouping: the group of a flat index, row-major over the kept dims
// (nc: dims 0 and 1, n: dim 0, c: dim 1, tensor: none); a dim the tensor lacks
// is dropped.
int64_t spec_group_of(const Shape& shape, int64_t flat, Grouping g, int64_t* groups = nullptr) {
  std::vector<int64_t> idx(shape.size());
  int64_t rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = rest % shape[d];
    rest /= shape[d];
  }
  std::vector<int> kept;
  if ((g == Grouping::nc || g == Grouping::n) && shape.size() >= 1) kept.push_back(0);
  if ((g == Grouping::nc || g == Grouping::c) && shape.size() >= 2) kept.push_back(1);
  int64_t id = 0, count = 1;
  for (int d : kept) {
    id = id * shape[size_t(d)] + idx[size_t(d)];
    count *= shape[size_t(d)];
  }
  if (groups) *groups = count;
  return id;
}

// docs/reference.md#the-reference-quantizer step 2: S_g from s = S_r / S_t.
double spec_scale(double s, int Eg, int Mg) {
  const int min_exp = 1 - (1 << Eg);
  if (s == 0.0) return std::ldexp(1.0, min_exp);
  int ex = 0;
  const double mant = std::frexp(s, &ex);  // s = mant 2^ex, mant in [0.5, 1)
  int e = ex - 1;
  const double f = mant * 2 - 1;            // s = (1 + f) 2^e
  double c = std::ceil(f * (1 << Mg));
  if (c == double(1 << Mg)) {
    c = 0;
    e += 1;
  }
  e = std::max(min_exp, std::min(e, 0));
  return (1.0 + c / (1 << Mg)) * std::ldexp(1.0, e);
}

// docs/reference.md#the-reference-quantizer step 4.
double spec_step(double x_f, const ElemFormat& f) {
  const int emin = 1 - (1 << f.e);
  if (f.e == 0 || x_f < std::ldexp(1.0, emin)) return std::ldexp(1.0, emin - f.m);
  int ex = 0;
  std::frexp(x_f, &ex);
  return std::ldexp(1.0, std::min(ex - 1, -1) - f.m);
}

double spec_unit(const ElemFormat& f) { return std::ldexp(1.0, 1 - (1 << f.e) - f.m); }
int64_t spec_max_q(const ElemFormat& f) {
  return f.e == 0 ? (int64_t{1} << f.m) - 1 : ((int64_t{2} << f.m) - 1) << ((1 << f.e) - 2);
}

// docs/reference.md#the-reference-quantizer steps 4-6 for one element.
int64_t spec_magnitude(double x_f, const ElemFormat& f, Rounding rounding, float r, bool clip) {
  const double step = spec_step(x_f, f), u = spec_unit(f);
  const double t = x_f / step;  // exact: division by a power of two
  double tr;
  if (rounding == Rounding::nearest) {
    const double fl = std::floor(t), d = t - fl;
    tr = d > 0.5 ? fl + 1 : d < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  } else {
    tr = std::floor((t + double(r)) + 0.5);
  }
  if (clip) {
    const int emin = 1 - (1 << f.e);
    const bool denormal = f.e == 0 || x_f < std::ldexp(1.0, emin);
    const double top = denormal ? double((int64_t{1} << f.m) - 1) : double((int64_t{2} << f.m) - 1);
    tr = std::min(tr, top);
  }
  const double q = tr * step / u;
  return std::min(int64_t(q), spec_max_q(f));
}

struct SpecQuant {
  double s_t = 0;
  std::vector<double> sg;      // per group
  std::vector<double> x_f;     // per element
  std::vector<int64_t> group;  // per element
  std::vector<int64_t> sq;     // per element, signed
};

SpecQuant spec_quantize(const TensorF& x, const QuantConfig& c, const std::function<float(int64_t)>& r) {
  SpecQuant s;
  int64_t groups = 1;
  spec_group_of(x.shape, 0, c.group, &groups);
  std::vector<double> s_r(size_t(groups), 0.0);
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t g = spec_group_of(x.shape, i, c.group);
    s.group.push_back(g);
    s_r[size_t(g)] = std::max(s_r[size_t(g)], std::fabs(double(x.data[size_t(i)])));
  }
  for (double v : s_r) s.s_t = std::max(s.s_t, v);
  for (double v : s_r) s.sg.push_back(spec_scale(s.s_t == 0 ? 0.0 : v / s.s_t, c.scale.e, c.scale.m));
  for (int64_t i = 0; i < x.size(); ++i) {
    const double v = x.data[size_t(i)];
    const double x_f = s.s_t == 0 ? 0.0 : std::fabs(v) / (s.s_t * s.sg[size_t(s.group[size_t(i)])]);
    s.x_f.push_back(x_f);
    const int64_t mag = spec_magnitude(x_f, c.elem, c.rounding, r(i), c.clip);
    s.sq.push_back(v < 0 ? -mag : mag);
  }
  return s;
}

// Random tensor: normal values with a per-(dim0, dim1) magnitude spread over
// 2^-24 .. 1 so that group scales differ, plus some exact zeros.
TensorF random_tensor(const Shape& shape, uint64_t seed, double zero_fraction = 0.05) {
  TensorF t(shape);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const int64_t d0 = shape.empty() ? 1 : shape[0];
  const int64_t d1 = shape.size() >= 2 ? shape[1] : 1;
  std::vector<double> gain(size_t(d0 * d1));
  for (double& g : gain) g = std::ldexp(1.0, -int(uni(gen) * 24));
  const int64_t inner = t.size() / (d0 * d1);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = uni(gen) < zero_fraction ? 0.0 : normal(gen) * gain[size_t(i / inner)];
    t.data[size_t(i)] = float(v);
  }
  return t;
}

void expect_matches_spec(const QuantTensor& q, const SpecQuant& s, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(double(q.s_t), s.s_t);
  ASSERT_EQ(q.sg.size(), s.sg.size());
  for (size_t g = 0; g < s.sg.size(); ++g) EXPECT_EQ(q.group_scale(int64_t(g)), s.sg[g]) << "group " << g;
  ASSERT_EQ(q.sq.size(), s.sq.size());
  int64_t bad = 0;
  for (size_t i = 0; i < s.sq.size(); ++i)
    if (int64_t(q.sq[i]) != s.sq[i] && bad++ < 5)
      ADD_FAILURE() << "element " << i << ": sq " << q.sq[i] << ", expected " << s.sq[i] << " (x_f " << s.x_f[i] << ")";
  EXPECT_EQ(bad, 0);
}

const std::vector<ElemFormat> kElems = {efmt(2, 4), efmt(2, 1), efmt(3, 3), efmt(0, 4), efmt(1, 2), efmt(4, 3),
                                        efmt(1, 0), efmt(3, 6)};
const std::vector<ScaleFormat> kScales = {sfmt(8, 1), sfmt(8, 0), sfmt(2, 1), sfmt(3, 0)};

// ---- tests ------------------------------------------------------------------

TEST(ref_quantizer, GroupsAndScalesFollowMaxAbsPerGroupForEveryRankAndGrouping) {
  const std::vector<Shape> shapes = {{7}, {5, 6}, {3, 4, 2, 3}};
  const Grouping groupings[] = {Grouping::nc, Grouping::n, Grouping::c, Grouping::tensor};
  int checked_groups = 0;
  for (const Shape& shape : shapes)
    for (Grouping g : groupings)
      for (const ScaleFormat& sf : {sfmt(8, 1), sfmt(8, 0)}) {
        const TensorF x = random_tensor(shape, 100 + shape.size(), 0.0);
        const QuantConfig c = config(efmt(2, 4), sf, g, Rounding::nearest);
        const QuantTensor q = mls::quantize(x, "t", c);
        // Expected group count from the reference's dropping rule.
        int64_t groups = 1;
        spec_group_of(shape, 0, g, &groups);
        const int64_t expect_groups = shape.size() == 1 ? (g == Grouping::c || g == Grouping::tensor ? 1 : shape[0])
                                                        : groups;
        EXPECT_EQ(int64_t(q.sg.size()), expect_groups);
        EXPECT_EQ(groups, expect_groups);
        // S_r per group directly: max |x| over the elements the reference puts in it.
        std::vector<double> s_r(size_t(groups), 0.0);
        double s_t = 0;
        for (int64_t i = 0; i < x.size(); ++i) {
          const double a = std::fabs(double(x.data[size_t(i)]));
          s_r[size_t(spec_group_of(shape, i, g))] = std::max(s_r[size_t(spec_group_of(shape, i, g))], a);
          s_t = std::max(s_t, a);
        }
        EXPECT_EQ(double(q.s_t), s_t);
        for (int64_t k = 0; k < groups; ++k) {
          const double sg = q.group_scale(k);
          const double s = s_r[size_t(k)] / s_t;
          EXPECT_EQ(sg, spec_scale(s, sf.e, sf.m)) << "group " << k;
          EXPECT_GE(sg, s);  // every element lands in [0, 1]
          ++checked_groups;
        }
        for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(q.layout.group_of(i), spec_group_of(shape, i, g));
        expect_matches_spec(q, spec_quantize(x, c, [](int64_t) { return 0.0f; }), "whole tensor");
      }
  EXPECT_GT(checked_groups, 100);
}

TEST(ref_quantizer, NearestIsWithinHalfAStepAndEqualsTheSpec) {
  uint64_t seed = 1;
  for (const ElemFormat& ef : kElems)
    for (const ScaleFormat& sf : kScales) {
      const TensorF x = random_tensor({6, 5, 3, 3}, seed++);
      const QuantConfig c = config(ef, sf, Grouping::nc, Rounding::nearest);
      const QuantTensor q = mls::quantize(x, "w", c);
      const SpecQuant s = spec_quantize(x, c, [](int64_t) { return 0.0f; });
      expect_matches_spec(q, s, ef.name() + "/" + sf.name());
      const TensorF d = mls::dequantize(q);
      const double u = spec_unit(ef), max_v = double(spec_max_q(ef)) * u;
      for (size_t i = 0; i < q.sq.size(); ++i) {
        const int64_t mag = std::abs(int64_t(q.sq[i]));
        EXPECT_TRUE(mls::is_representable(ef, mag));
        const double x_f = s.x_f[i];
        ASSERT_LE(x_f, 1.0);
        if (x_f > max_v) {
          EXPECT_EQ(mag, spec_max_q(ef)) << "saturation, element " << i;
          continue;
        }
        EXPECT_LE(std::fabs(double(mag) * u - x_f), spec_step(x_f, ef) / 2) << ef.name() << " element " << i;
        // The same bound on the dequantized float32 value, plus its own rounding.
        const double scale = s.s_t * s.sg[size_t(s.group[i])];
        EXPECT_LE(std::fabs(double(d.data[i]) - double(x.data[i])),
                  scale * spec_step(x_f, ef) / 2 + std::fabs(double(d.data[i])) * 0x1p-24 + 0x1p-150)
            << ef.name() << " element " << i;
        if (mag != 0) {
          EXPECT_EQ(q.sq[i] < 0, x.data[i] < 0);
        }
      }
    }
}

TEST(ref_quantizer, StochasticIsWithinOneStepAndEqualsTheSpecWithTheCounterRng) {
  uint64_t seed = 50;
  for (const ElemFormat& ef : kElems)
    for (const ScaleFormat& sf : {sfmt(8, 1), sfmt(2, 0)})
      for (bool clip : {false, true}) {
        const TensorF x = random_tensor({4, 6, 3, 3}, seed++);
        const QuantConfig c = config(ef, sf, Grouping::nc, Rounding::stochastic, seed, clip);
        const QuantTensor q = mls::quantize(x, "layer.input", c);
        const mls::CounterRng rng(seed, "layer.input");
        const SpecQuant s = spec_quantize(x, c, [&](int64_t i) { return rng.at(uint64_t(i)); });
        expect_matches_spec(q, s, ef.name() + (clip ? " clip" : ""));
        const TensorF d = mls::dequantize(q);
        const double u = spec_unit(ef), max_v = double(spec_max_q(ef)) * u;
        for (size_t i = 0; i < q.sq.size(); ++i) {
          const double x_f = s.x_f[i];
          const int64_t mag = std::abs(int64_t(q.sq[i]));
          if (x_f > max_v) {
            EXPECT_EQ(mag, spec_max_q(ef));
            continue;
          }
          EXPECT_LT(std::fabs(double(mag) * u - x_f), spec_step(x_f, ef)) << ef.name() << " element " << i;
          const double scale = s.s_t * s.sg[size_t(s.group[i])];
          EXPECT_LE(std::fabs(double(d.data[i]) - double(x.data[i])),
                    scale * spec_step(x_f, ef) + std::fabs(double(d.data[i])) * 0x1p-24 + 0x1p-150)
              << ef.name() << " element " << i;
        }
      }
}

TEST(ref_quantizer, ClipDiffersFromTheDefaultOnlyByBinadeCrossings) {
  // e2m1 nearest: every element where --clip and the default differ must be a
  // default result one step above the clip result, at the region's top.
  const TensorF x = random_tensor({8, 8, 4, 4}, 77, 0.0);
  const ElemFormat ef = efmt(2, 1);
  const QuantTensor a = mls::quantize(x, "x", config(ef, sfmt(8, 1), Grouping::nc, Rounding::nearest));
  const QuantTensor b = mls::quantize(x, "x", config(ef, sfmt(8, 1), Grouping::nc, Rounding::nearest, 0, true));
  const SpecQuant s = spec_quantize(x, config(ef, sfmt(8, 1), Grouping::nc, Rounding::nearest, 0, true),
                                    [](int64_t) { return 0.0f; });
  expect_matches_spec(b, s, "clip");
  int differ = 0;
  for (size_t i = 0; i < a.sq.size(); ++i) {
    if (a.sq[i] == b.sq[i]) continue;
    ++differ;
    const int64_t qa = std::abs(int64_t(a.sq[i])), qb = std::abs(int64_t(b.sq[i]));
    // clip result is the top of a region: 2^M - 1 (denormal) or (2^(M+1) - 1) 2^b.
    EXPECT_TRUE(qb == 1 || qb == 3 || qb == 6 || qb == 12) << qb;
    EXPECT_EQ(qa, qb == 1 ? 2 : qb == 3 ? 4 : qb == 6 ? 8 : 12);
    EXPECT_LT(qb, qa);
  }
  EXPECT_GT(differ, 0);
}

TEST(ref_quantizer, StochasticRoundingIsUnbiasedOverSeeds) {
  // A fixed tensor quantized with 2000 seeds: the mean of q u per element
  // approaches x_f. Each draw's error has variance <= step^2 / 4, so the mean's
  // standard deviation is <= step / (2 sqrt(n)); the tolerance is 5 of those.
  const int n = 2000;
  const TensorF x = random_tensor({4, 4, 4}, 5, 0.0);
  const ElemFormat ef = efmt(2, 2);
  const double u = spec_unit(ef), max_v = double(spec_max_q(ef)) * u;
  const QuantConfig base = config(ef, sfmt(8, 1), Grouping::nc, Rounding::stochastic);
  const SpecQuant s = spec_quantize(x, base, [](int64_t) { return 0.0f; });
  std::vector<double> sum(size_t(x.size()), 0.0);
  for (int seed = 0; seed < n; ++seed) {
    QuantConfig c = base;
    c.seed = uint64_t(seed);
    const QuantTensor q = mls::quantize(x, "unbiased", c);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += std::fabs(double(q.sq[i])) * u;
  }
  int tested = 0, informative = 0;
  double total_signed = 0, total_step = 0;
  for (size_t i = 0; i < sum.size(); ++i) {
    const double x_f = s.x_f[i];
    if (x_f > max_v) continue;  // saturation is biased by design
    const double step = spec_step(x_f, ef);
    const double mean = sum[i] / n;
    const double tol = 5 * step / (2 * std::sqrt(double(n)));
    EXPECT_LE(std::fabs(mean - x_f), tol) << "element " << i << " x_f " << x_f << " step " << step;
    // Would a biased rounding (e.g. nearest) have been caught here?
    const double frac = x_f / step - std::floor(x_f / step);
    if (std::min(frac, 1 - frac) > 2 * tol / step) ++informative;
    total_signed += (mean - x_f) / step;
    total_step += 1;
    ++tested;
  }
  EXPECT_GT(tested, 50);
  EXPECT_GT(informative, 30);
  // All elements together: the mean signed error in steps, sd <= 1/(2 sqrt(n tested)).
  EXPECT_LE(std::fabs(total_signed / total_step), 5 / (2 * std::sqrt(double(n) * tested)));
}

TEST(ref_quantizer, SameSeedSameBitsForAnyThreadCountDifferentSeedsDiffer) {
  const TensorF x = random_tensor({8, 16, 3, 3}, 9);
  const QuantConfig c = config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::stochastic, 42);
  const QuantTensor one = mls::quantize(x, "t", c, nullptr, 1);
  for (int threads : {2, 3, 8}) {
    const QuantTensor many = mls::quantize(x, "t", c, nullptr, threads);
    EXPECT_EQ(one.sq, many.sq) << threads << " threads";
    EXPECT_EQ(one.s_t, many.s_t);
  }
  QuantConfig c2 = c;
  c2.seed = 43;
  const QuantTensor other = mls::quantize(x, "t", c2);
  size_t differ = 0;
  for (size_t i = 0; i < one.sq.size(); ++i) differ += one.sq[i] != other.sq[i];
  EXPECT_GT(differ, one.sq.size() / 10);
  // The tensor name keys the draws too.
  const QuantTensor renamed = mls::quantize(x, "u", c);
  differ = 0;
  for (size_t i = 0; i < one.sq.size(); ++i) differ += one.sq[i] != renamed.sq[i];
  EXPECT_GT(differ, one.sq.size() / 10);
}

TEST(ref_quantizer, CounterRngFollowsItsPublishedFormula) {
  // rng.h's formula, evaluated here step by step (FNV-1a 64 and SplitMix64).
  auto fnv = [](const std::string& s) {
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
    return h;
  };
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const uint64_t gamma = 0x9E3779B97F4A7C15ULL;
  EXPECT_EQ(fnv(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv("a"), 0xaf63dc4c8601ec8cULL);  // published FNV-1a 64 test vector
  for (uint64_t seed : {0ULL, 1ULL, 12345ULL})
    for (const std::string name : {"x", "layer1.0.conv1.weight"}) {
      const mls::CounterRng rng(seed, name);
      for (uint64_t i : {0ULL, 1ULL, 2ULL, 1000ULL, 123456789ULL}) {
        const uint64_t bits = mix((fnv(name) ^ (seed * gamma)) + (i + 1) * gamma);
        const double r = double(bits >> 40) / 16777216.0 - 0.5;
        EXPECT_EQ(double(rng.at(i)), r);
        EXPECT_GE(r, -0.5);
        EXPECT_LT(r, 0.5);
      }
    }
}

TEST(ref_quantizer, RandomTensorPathEqualsTheCounterRngWhenFedItsDraws) {
  const TensorF x = random_tensor({3, 5, 2, 2}, 11);
  for (uint64_t seed : {0ULL, 7ULL}) {
    const QuantConfig c = config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::stochastic, seed);
    const mls::CounterRng rng(seed, "conv.weight");
    TensorF r(x.shape);
    for (int64_t i = 0; i < r.size(); ++i) r.data[size_t(i)] = rng.at(uint64_t(i));
    const QuantTensor a = mls::quantize(x, "conv.weight", c);
    QuantConfig other_seed = c;
    other_seed.seed = seed + 1000;  // --random overrides --seed
    const QuantTensor b = mls::quantize(x, "conv.weight", other_seed, &r);
    EXPECT_EQ(a.sq, b.sq);
  }
  // Extreme draws: r = -0.5 rounds every non-representable value down, r just
  // below 0.5 rounds it up (floor(t + r + 0.5)).
  const QuantConfig c = config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::stochastic);
  for (float rv : {-0.5f, std::nextafter(0.5f, 0.0f), 0.0f, 0.25f}) {
    TensorF r(x.shape);
    std::fill(r.data.begin(), r.data.end(), rv);
    const QuantTensor q = mls::quantize(x, "x", c, &r);
    expect_matches_spec(q, spec_quantize(x, c, [&](int64_t) { return rv; }), "r=" + std::to_string(rv));
  }
}

void expect_error_containing(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const mls::Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(ref_quantizer, RejectsOutOfRangeAndMisshapenRandomTensors) {
  const TensorF x = random_tensor({3, 4}, 12);
  const QuantConfig c = config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::stochastic);
  for (float bad : {0.5f, 1.0f, std::nextafter(-0.5f, -1.0f), -1.0f, NAN, INFINITY, -INFINITY}) {
    TensorF r(x.shape);
    r.data[7] = bad;
    expect_error_containing([&] { mls::quantize(x, "my.tensor", c, &r); }, {"my.tensor", "7"});
  }
  for (const Shape& s : {Shape{4, 3}, Shape{12}, Shape{3, 4, 1}, Shape{3, 5}}) {
    TensorF r(s);
    expect_error_containing([&] { mls::quantize(x, "my.tensor", c, &r); }, {"my.tensor", "shape"});
  }
}

TEST(ref_quantizer, ZeroGroupsGetTheSmallestScaleAndZeroTensorGetsZeroSt) {
  TensorF x = random_tensor({3, 4, 2, 2}, 13, 0.0);
  for (int k = 0; k < 4; ++k) x.data[size_t((1 * 4 + 2) * 4 + k)] = 0.0f;   // group (1, 2)
  for (int k = 0; k < 4; ++k) x.data[size_t((2 * 4 + 0) * 4 + k)] = -0.0f;  // group (2, 0), negative zeros
  for (const ScaleFormat& sf : {sfmt(8, 1), sfmt(8, 0), sfmt(3, 1)}) {
    const QuantTensor q = mls::quantize(x, "z", config(efmt(2, 4), sf, Grouping::nc, Rounding::stochastic));
    for (int64_t g : {1 * 4 + 2, 2 * 4 + 0}) {
      EXPECT_EQ(q.sg[size_t(g)].exp, 1 - (1 << sf.e));
      EXPECT_EQ(q.sg[size_t(g)].man, 0);
      for (int k = 0; k < 4; ++k) EXPECT_EQ(q.sq[size_t(g * 4 + k)], 0);
    }
  }
  const TensorF zeros(Shape{2, 3, 2});
  const QuantTensor q = mls::quantize(zeros, "zeros", config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::nearest));
  EXPECT_EQ(q.s_t, 0.0f);
  EXPECT_FALSE(std::signbit(q.s_t));
  for (const auto& g : q.sg) {
    EXPECT_EQ(g.exp, -255);
    EXPECT_EQ(g.man, 0);
  }
  for (int32_t v : q.sq) EXPECT_EQ(v, 0);
  for (float v : mls::dequantize(q).data) EXPECT_EQ(v, 0.0f);
}

TEST(ref_quantizer, NanAndInfAreRejectedNamingTheTensorAndTheFirstIndex) {
  const QuantConfig c = config(efmt(2, 4), sfmt(8, 1), Grouping::nc, Rounding::nearest);
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    TensorF x = random_tensor({2, 3, 4}, 14);
    x.data[17] = bad;
    x.data[21] = NAN;  // a later bad value: the message names the first
    try {
      mls::quantize(x, "layer3.weight", c);
      ADD_FAILURE() << "no error";
    } catch (const mls::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("layer3.weight"), std::string::npos) << msg;
      EXPECT_NE(msg.find("17"), std::string::npos) << msg;
      EXPECT_EQ(msg.find("21"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::isnan(bad) ? "NaN" : "Inf"), std::string::npos) << msg;
    }
  }
}

TEST(ref_quantizer, DequantizeIsOneRoundingOfTheExactProduct) {
  // sign * S_t * S_g * q * u is exact in double (24 + 2 + 13 bits); the float32
  // result is its one RNE rounding, with gradual underflow.
  int subnormal = 0, inexact = 0;
  uint64_t seed = 200;
  for (const ElemFormat& ef : kElems)
    for (const ScaleFormat& sf : {sfmt(8, 1), sfmt(8, 0)})
      for (double gain : {1.0, 1e-36, 3e-41}) {
        TensorF x = random_tensor({4, 3, 5}, seed++);
        for (float& v : x.data) v = float(double(v) * gain);
        const QuantConfig c = config(ef, sf, Grouping::nc, Rounding::stochastic, seed);
        const QuantTensor q = mls::quantize(x, "d", c);
        const mls::CounterRng rng(seed, "d");
        const SpecQuant s = spec_quantize(x, c, [&](int64_t i) { return rng.at(uint64_t(i)); });
        expect_matches_spec(q, s, ef.name());
        const TensorF d = mls::dequantize(q);
        ASSERT_EQ(d.shape, x.shape);
        for (size_t i = 0; i < d.data.size(); ++i) {
          const double exact = double(s.sq[i]) * s.s_t * s.sg[size_t(s.group[i])] * spec_unit(ef);
          const float expected = static_cast<float>(exact);
          EXPECT_EQ(d.data[i], expected) << "element " << i << " exact " << exact;
          if (expected != 0 && std::fabs(expected) < 0x1p-126f) ++subnormal;
          if (double(expected) != exact) ++inexact;
        }
      }
  EXPECT_GT(subnormal, 20);  // the gradual-underflow path was exercised
  EXPECT_GT(inexact, 20);    // and so was the rounding itself
}

TEST(ref_quantizer, AverageRelativeErrorHandCase) {
  TensorF x(Shape{5}), xq(Shape{5});
  x.data = {1.0f, -2.0f, 0.0f, 4.0f, 0.5f};
  xq.data = {1.5f, -2.0f, 5.0f, 3.0f, -0.5f};
  // (0.5/1 + 0/2 + 1/4 + 1/0.5) / 4, the zero input excluded.
  EXPECT_DOUBLE_EQ(mls::average_relative_error(x, xq), (0.5 + 0.0 + 0.25 + 2.0) / 4);
  TensorF z(Shape{3}), zq(Shape{3});
  zq.data = {1.0f, 2.0f, 3.0f};
  EXPECT_EQ(mls::average_relative_error(z, zq), 0.0);  // all-zero input: 0 by definition
}

}  // namespace
