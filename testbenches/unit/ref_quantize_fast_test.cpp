// quantize (the walk by group runs, ref/quant/quantize_runs.cpp) against the
// plain element-by-element walk quantize_reference, bit for bit: codes, group
// scales and S_t over every element format, scale formats, both roundings (the
// counter draws and a given random tensor), --clip, both scale rules and every
// grouping (nc, n, c, tensor, kB along each dim, with segments), on tensors of
// edge values (zeros of both signs, float denormals, powers of two, dyadic
// values whose scaled magnitudes sit on binade edges and rounding ties, their
// neighbours one ulp away, huge and tiny magnitudes), and the same errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ref/core/error.h"
#include "ref/quant/quantizer.h"

namespace {

using mls::BlockAxis;
using mls::ElemFormat;
using mls::Grouping;
using mls::GroupLayout;
using mls::QuantConfig;
using mls::QuantTensor;
using mls::Rounding;
using mls::ScaleFormat;
using mls::ScaleRule;
using mls::Shape;
using mls::TensorF;

// One magnitude of the edge mix, before its group's factor.
float edge_magnitude(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 9), small(0, 40);
  switch (kind(rng)) {
    case 0: return 0.0f;
    case 1: return std::ldexp(1.0f, -small(rng));                                 // a power of two
    case 2: return float(std::uniform_int_distribution<int>(1, 1 << 14)(rng)) *    // a dyadic value: binade
                   std::ldexp(1.0f, -14 - small(rng) / 2);                         // edges and ties
    case 3: {                                                                      // one ulp beside one
      const float d = float(std::uniform_int_distribution<int>(1, 1 << 12)(rng)) * std::ldexp(1.0f, -12);
      return std::nextafter(d, (rng() & 1) ? 2.0f : 0.0f);
    }
    case 4: return std::ldexp(float(std::uniform_int_distribution<int>(1, 1 << 20)(rng)), -149);  // denormals
    case 5: return std::ldexp(std::uniform_real_distribution<float>(0.5f, 1.0f)(rng), -100 - small(rng));
    default: return std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
  }
}

// Each group gets a factor (a power of two, a scale-like 1.x times one, or
// anything), so the groups' scales differ and a wrong group shows.
TensorF edge_tensor(const Shape& shape, const GroupLayout& layout, std::mt19937_64& rng, float top = 1.0f) {
  std::vector<float> factor(size_t(layout.groups()));
  for (float& f : factor) {
    const int e = std::uniform_int_distribution<int>(0, 30)(rng) * ((rng() % 5 == 0) ? 4 : 1);
    const float mant = (rng() & 1) ? 1.0f : 1.0f + float(rng() % 8) / 8.0f;
    f = (rng() % 4 == 0) ? std::uniform_real_distribution<float>(0.0f, 1.0f)(rng) : std::ldexp(mant, -e);
    if (rng() % 16 == 0) f = 0.0f;  // an all-zero group
  }
  TensorF x(shape);
  for (int64_t i = 0; i < x.size(); ++i) {
    float v = edge_magnitude(rng) * factor[size_t(layout.group_of(i))] * top;
    if (rng() & 1) v = -v;
    x.data[size_t(i)] = v;
  }
  if (x.size() > 0 && rng() % 3 == 0) x.data[size_t(rng() % uint64_t(x.size()))] = -0.0f;
  return x;
}

// Draws in [-0.5, 0.5): the ends, zero, and dyadic values that make t + r ties.
TensorF random_draws(const Shape& shape, std::mt19937_64& rng) {
  TensorF r(shape);
  for (float& v : r.data) {
    switch (rng() % 5) {
      case 0: v = -0.5f; break;
      case 1: v = 0.5f - std::ldexp(1.0f, -24); break;
      case 2: v = float(int(rng() % 64) - 32) / 64.0f; break;
      default: v = std::uniform_real_distribution<float>(-0.5f, 0.5f)(rng);
    }
  }
  return r;
}

struct Case {
  Shape shape;
  Grouping group;
  BlockAxis axis;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const std::vector<Shape> shapes = {{}, {7}, {5, 6}, {4, 6, 3, 2}, {2, 12, 3, 5}};
  for (const Shape& s : shapes) {
    for (Grouping g : {Grouping(Grouping::nc), Grouping(Grouping::n), Grouping(Grouping::c),
                       Grouping(Grouping::tensor)})
      out.push_back({s, g, {}});
    for (int b : {2, 3, 16}) {
      for (int d = 0; d < std::max<int>(1, int(s.size())); ++d) out.push_back({s, Grouping::blocks(b), {d, 0}});
    }
  }
  // Segments: a grouped conv's channel groups along dim 1.
  out.push_back({{2, 12, 3, 5}, Grouping::blocks(3), {1, 4}});
  out.push_back({{2, 12, 3, 5}, Grouping::blocks(5), {1, 6}});
  out.push_back({{3, 12}, Grouping::blocks(2), {1, 3}});
  out.push_back({{3, 12}, Grouping::blocks(32), {1, 12}});
  out.push_back({{0, 4}, Grouping::nc, {}});
  return out;
}

void expect_same(const QuantTensor& fast, const QuantTensor& ref, const std::string& what) {
  ASSERT_EQ(fast.sq.size(), ref.sq.size()) << what;
  EXPECT_EQ(std::memcmp(&fast.s_t, &ref.s_t, sizeof(float)), 0) << what;
  ASSERT_EQ(fast.sg.size(), ref.sg.size()) << what;
  for (size_t g = 0; g < ref.sg.size(); ++g) {
    ASSERT_EQ(fast.sg[g].exp, ref.sg[g].exp) << what << " group " << g;
    ASSERT_EQ(fast.sg[g].man, ref.sg[g].man) << what << " group " << g;
  }
  for (size_t i = 0; i < ref.sq.size(); ++i) ASSERT_EQ(fast.sq[i], ref.sq[i]) << what << " element " << i;
  EXPECT_EQ(fast.shape, ref.shape) << what;
  EXPECT_EQ(fast.layout.groups(), ref.layout.groups()) << what;
}

std::string describe(const QuantConfig& c, const Case& k, bool with_random) {
  std::string s = c.elem.name() + " " + c.scale.name() + " " + to_string(c.rounding) + (with_random ? "+random" : "") +
                  " " + to_string(c.scale_rule) + (c.clip ? " clip" : "") + " " + to_string(k.group) + " axis " +
                  std::to_string(k.axis.dim) + "/" + std::to_string(k.axis.segment) + " " + mls::shape_str(k.shape);
  return s;
}

// Every element format, each with every rounding, --clip and scale rule; the
// scale formats and the groupings taken in turn.
TEST(ref_quantize_fast, MatchesTheReferenceWalkBitForBit) {
  const std::vector<ScaleFormat> scales = {{8, 0}, {8, 1}, {8, 2}, {8, 3}, {4, 3}, {2, 1}, {0, 1}, {5, 0}};
  const std::vector<Case> all = cases();
  std::mt19937_64 rng(25);
  size_t turn = 0, compared = 0;
  for (int e = 0; e <= 4; ++e) {
    for (int m = 0; m <= 12; ++m) {
      if (e + m < 1) continue;
      for (int mode = 0; mode < 3; ++mode) {
        for (int variant = 0; variant < 4; ++variant, ++turn) {
          QuantConfig c;
          c.elem = ElemFormat{e, m};
          c.scale = scales[turn % scales.size()];
          c.rounding = mode == 0 ? Rounding::nearest : Rounding::stochastic;
          c.clip = variant & 1;
          c.scale_rule = (variant & 2) ? ScaleRule::fit : ScaleRule::cover;
          c.seed = rng();
          const Case& k = all[(turn * 7) % all.size()];
          c.group = k.group;
          const GroupLayout layout(k.shape, k.group, k.axis);
          const float top = (turn % 11 == 0) ? std::numeric_limits<float>::max() / 2 : 1.0f;
          const TensorF x = edge_tensor(k.shape, layout, rng, top);
          const TensorF r = random_draws(k.shape, rng);
          const TensorF* random = mode == 2 ? &r : nullptr;
          const std::string name = "t" + std::to_string(turn);
          const QuantTensor want = mls::quantize_reference(x, name, c, k.axis, random, 1);
          expect_same(mls::quantize(x, name, c, k.axis, random, 1 + int(turn % 3)), want, describe(c, k, random));
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, size_t(64 * 3 * 4));
}

// Every grouping and shape, with every scale format, each rounding.
TEST(ref_quantize_fast, EveryGroupingAndScaleFormat) {
  const std::vector<ScaleFormat> scales = {{8, 0}, {8, 1}, {8, 2}, {8, 3}, {4, 3}, {2, 1}, {0, 1}};
  const std::vector<ElemFormat> elems = {{2, 4}, {4, 3}, {2, 1}, {0, 4}, {1, 2}, {3, 7}};
  std::mt19937_64 rng(2025);
  size_t turn = 0;
  for (const Case& k : cases()) {
    const GroupLayout layout(k.shape, k.group, k.axis);
    for (const ScaleFormat& s : scales) {
      for (int mode = 0; mode < 3; ++mode, ++turn) {
        QuantConfig c;
        c.elem = elems[turn % elems.size()];
        c.scale = s;
        c.group = k.group;
        c.rounding = mode == 0 ? Rounding::nearest : Rounding::stochastic;
        c.clip = turn % 5 == 0;
        c.scale_rule = turn % 3 == 0 ? ScaleRule::fit : ScaleRule::cover;
        const TensorF x = edge_tensor(k.shape, layout, rng);
        const TensorF r = random_draws(k.shape, rng);
        const TensorF* random = mode == 2 ? &r : nullptr;
        const QuantTensor want = mls::quantize_reference(x, "g", c, k.axis, random, 1);
        for (int threads : {1, 4})
          expect_same(mls::quantize(x, "g", c, k.axis, random, threads), want, describe(c, k, random));
      }
    }
  }
}

// An all-zero tensor and a larger tensor split over threads.
TEST(ref_quantize_fast, ZerosAndThreads) {
  QuantConfig c;
  const Shape shape = {3, 8, 17, 9};
  TensorF zeros(shape);
  zeros.data[5] = -0.0f;
  const BlockAxis axis = mls::default_block_axis(shape);
  expect_same(mls::quantize(zeros, "z", c, axis, nullptr, 3), mls::quantize_reference(zeros, "z", c, axis), "zeros");
  std::mt19937_64 rng(7);
  for (Grouping g : {Grouping(Grouping::nc), Grouping::blocks(32), Grouping::blocks(4)}) {
    c.group = g;
    const GroupLayout layout(shape, g, axis);
    const TensorF x = edge_tensor(shape, layout, rng);
    const QuantTensor want = mls::quantize_reference(x, "w", c, axis);
    for (int threads : {1, 2, 7, 64}) expect_same(mls::quantize(x, "w", c, axis, nullptr, threads), want, "threads");
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mls::Error& e) {
    return e.what();
  }
  return "no error";
}

// NaN, Inf, bad random tensors and a bad block axis: the same error, in the
// same order of checks, as the plain walk.
TEST(ref_quantize_fast, SameErrors) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  QuantConfig c;
  c.rounding = Rounding::stochastic;
  TensorF good({4, 6});
  for (size_t i = 0; i < good.data.size(); ++i) good.data[i] = float(i) / 8.0f - 1.0f;
  TensorF r_ok({4, 6}), r_bad({4, 6}), r_shape({6, 4});
  r_bad.data[13] = 0.5f;
  struct Bad {
    TensorF x;
    const TensorF* r;
    BlockAxis axis;
    Grouping g;
  };
  std::vector<Bad> bad;
  for (float v : {nan, inf, -inf, -nan}) {
    TensorF x = good;
    x.data[9] = v;
    x.data[17] = nan;
    bad.push_back({x, nullptr, {1, 0}, Grouping::nc});
    bad.push_back({x, &r_bad, {1, 0}, Grouping::nc});
    bad.push_back({x, &r_ok, {5, 0}, Grouping::blocks(4)});  // NaN before a bad axis
  }
  bad.push_back({good, &r_bad, {1, 0}, Grouping::nc});
  bad.push_back({good, &r_shape, {1, 0}, Grouping::blocks(2)});
  bad.push_back({good, &r_bad, {3, 0}, Grouping::blocks(2)});
  bad.push_back({good, nullptr, {1, 4}, Grouping::blocks(2)});
  bad.push_back({good, nullptr, {2, 0}, Grouping::blocks(2)});
  for (const Bad& b : bad) {
    c.group = b.g;
    const std::string want = error_of([&] { mls::quantize_reference(b.x, "bad", c, b.axis, b.r); });
    EXPECT_NE(want, "no error");
    EXPECT_EQ(error_of([&] { mls::quantize(b.x, "bad", c, b.axis, b.r, 2); }), want);
  }
}

}  // namespace
