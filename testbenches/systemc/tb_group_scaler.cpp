// Group-scaler testbench: the four mantissa cases of <E_g, 1> scales (1, 1.5,
// 1.5, 2.25 times a power of two), rounding of wide sums, gradual underflow;
// the multiplier form of M_g >= 2 scales, every mantissa code pair, against
// exact double and exact rational evaluation, and its mantissa fault.
#include "hw_model/array/group_scaler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

using Bench = tb::BlockBench<ChunkSums, ScaledSums, GroupScaler>;

// A 1 x 1 array, one group: S_g^X and S_g^Y come from the job's scale files.
struct ScalerCase {
  int64_t sum;
  GroupScale x, y;
};

// The accumulator width, the two scale formats and the fault of a bench.
struct Setup {
  int acc_bits = 16;
  ScaleFormat x_fmt{8, 1}, y_fmt{8, 1};
  Fault fault = Fault::none;
};

std::vector<float> run_cases(const std::vector<ScalerCase>& cases, const Setup& setup, Stats& stats,
                             std::vector<int>* edges = nullptr, ScalerForm* form = nullptr) {
  ArrayConfig cfg;
  cfg.rows = 1;
  cfg.cols = 1;
  cfg.acc_bits = setup.acc_bits;
  cfg.fault = setup.fault;
  // Case i is output (m = i, p = i) of a one-group job, so it picks its own
  // S_g^X[i] and S_g^Y[i] from the scale register files.
  LayerJob job;
  job.m = job.p = int64_t(cases.size());
  job.g = job.k = 1;
  job.plan = ChunkPlan(1, 1, 1);
  job.x_scale = setup.x_fmt;
  job.y_scale = setup.y_fmt;
  Bench bench("bench", [&] { return new GroupScaler(cfg, &stats); });
  std::vector<GroupScale> y_scales;
  for (size_t i = 0; i < cases.size(); ++i) {
    job.x_scales.push_back(cases[i].x);
    y_scales.push_back(cases[i].y);
    ChunkSums s;
    s.tag.valid = s.tag.tile_last = true;
    s.tag.m_tile = s.tag.p = int64_t(i);
    s.row_valid = {1};
    s.active_cols = 1;
    s.sum = {cases[i].sum};
    bench.stimulus.push_back(s);
  }
  job.y = mls::hw::YRows::stored(1, 1, std::vector<uint32_t>(cases.size(), 0), y_scales);
  bench.dut->load(job);
  if (form) *form = bench.dut->form();
  bench.run(2);
  std::vector<float> out;
  for (const auto& [edge, v] : bench.seen) {
    out.push_back(v.value[0]);
    if (edges) edges->push_back(edge);
  }
  return out;
}

// (1 + c/2) * 2^e in double: the definition of an <E_g, 1> scale.
double scale_value(GroupScale s) { return std::ldexp(1.0 + s.man / 2.0, s.exp); }

TEST(GroupScaler, FourMantissaCasesAreExact) {
  std::vector<ScalerCase> cases;
  for (uint8_t cx : {0, 1})
    for (uint8_t cy : {0, 1})
      for (int64_t sum : {1, -1, 7, 12345, -32768, 32767}) cases.push_back({sum, GroupScale{-3, cx}, GroupScale{-5, cy}});
  Stats stats;
  std::vector<int> edges;
  ScalerForm form{};
  const std::vector<float> got = run_cases(cases, {}, stats, &edges, &form);
  EXPECT_EQ(form, ScalerForm::shift_add) << "M_g <= 1 on both operands";
  ASSERT_EQ(got.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const ScalerCase& c = cases[i];
    const double exact = double(c.sum) * scale_value(c.x) * scale_value(c.y);
    EXPECT_EQ(double(got[i]), exact) << "sum " << c.sum << " cx " << int(c.x.man) << " cy " << int(c.y.man)
                                     << ": mantissa products 1, 1.5, 2.25 keep 16-bit sums exact";
    EXPECT_EQ(edges[i], int(i) + 2) << "one register stage";
  }
  EXPECT_EQ(stats.scale, cases.size());
  EXPECT_EQ(stats.scale_mul, 0u) << "the shift-add form makes no multiplications";
}

TEST(GroupScaler, WideSumsRoundToNearestEven) {
  // 62-bit accumulators: (2^40 + 1) * 2.25 needs 44 bits; fp32 keeps 24.
  std::vector<ScalerCase> cases;
  for (int64_t sum : {(int64_t{1} << 40) + 1, (int64_t{1} << 40) + (int64_t{1} << 17) + 1, -(int64_t{1} << 60) - 12345})
    cases.push_back({sum, GroupScale{-2, 1}, GroupScale{-7, 1}});
  Stats stats;
  const std::vector<float> got = run_cases(cases, {62}, stats);
  for (size_t i = 0; i < cases.size(); ++i) {
    // sum * 9 fits in 53 bits here, so the double product is exact and its
    // conversion to float is the one correct rounding.
    const double exact = std::ldexp(double(cases[i].sum) * 9.0, -2 - 7 - 2);
    EXPECT_EQ(got[i], float(exact)) << cases[i].sum;
  }
}

TEST(GroupScaler, GradualUnderflowBelowFp32Normals) {
  // e8m1 scales reach 2^-255: products fall into fp32's subnormal range or to 0.
  std::vector<ScalerCase> cases;
  for (int16_t ey : {-60, -75, -100, -140, -200})
    for (int64_t sum : {1, 3, 12345, -999})
      cases.push_back({sum, GroupScale{-70, 1}, GroupScale{ey, 1}});
  Stats stats;
  const std::vector<float> got = run_cases(cases, {}, stats);
  for (size_t i = 0; i < cases.size(); ++i) {
    const double exact = double(cases[i].sum) * scale_value(cases[i].x) * scale_value(cases[i].y);
    EXPECT_EQ(got[i], float(exact)) << "sum " << cases[i].sum << " ey " << cases[i].y.exp;
  }
}

// --- The multiplier form: M_g >= 2 -----------------------------------------

using u128 = unsigned __int128;

int bit_length(u128 v) {
  int n = 0;
  for (; v; v >>= 1) ++n;
  return n;
}

// RNE_fp32(+-V * 2^E) from its definition: count the exact value in units of
// the fp32 spacing of its binade (2^-149 below the normals), round half to
// even, and scale back. An independent rational evaluation for the sums whose
// product a double cannot hold exactly.
float rational_fp32(bool negative, u128 V, int E) {
  if (V == 0) return negative ? -0.0f : 0.0f;
  const int top = bit_length(V) - 1 + E;  // floor(log2 value)
  const int q = std::max(top - 23, -149);  // the spacing 2^q
  u128 units;
  if (E >= q) {
    units = V << (E - q);
  } else {
    const int d = q - E;
    const u128 kept = d >= 128 ? 0 : V >> d;
    const u128 rest = d >= 128 ? V : V - (kept << d);
    const u128 half = d >= 129 ? ~u128(0) : u128(1) << (d - 1);  // d >= 129: V < 2^128 < half
    units = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
  }
  const float f = float(std::ldexp(double(uint64_t(units)), q));  // units <= 2^24: exact, or beyond fp32: inf
  return negative ? -f : f;
}

// The scale mantissas (2^M + c) and the exact value of one scaling.
struct Exact {
  bool negative;
  u128 V;
  int E;
};

Exact exact_scaling(int64_t sum, GroupScale x, GroupScale y, int mx, int my) {
  const u128 mag = sum < 0 ? u128(-static_cast<__int128>(sum)) : u128(sum);
  return {sum < 0, mag * u128((1u << mx) + x.man) * u128((1u << my) + y.man), x.exp + y.exp - mx - my};
}

// A spread of chunk sums: small, odd values that tie once shifted into the
// subnormal range, 16-bit extremes, the 62-bit accumulator's extremes, sums of
// 25 to 61 significant bits (ties and near-ties once scaled).
std::vector<int64_t> wide_sums() {
  std::vector<int64_t> sums = {0, 1, -1, 3, 5, 7, -9, 12345, -32768, 32767, (int64_t{1} << 24) + 1,
                               (int64_t{1} << 25) - 1, (int64_t{1} << 40) + (int64_t{1} << 17) + 1,
                               -(int64_t{1} << 61), (int64_t{1} << 61) - 1, -(int64_t{1} << 50) - 3,
                               (int64_t{0x5555555555555555} >> 3), -(int64_t{0x123456789abcdef} + 1)};
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 12; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    sums.push_back(int64_t(state) >> (2 + i * 4));  // 62 down to 18 bits, either sign
  }
  return sums;
}

// The mantissa-width pairs of the multiplier form: both wide, one wide and one
// narrow, in either order.
const std::vector<std::pair<int, int>> kWidePairs = {{2, 2}, {2, 3}, {3, 2}, {3, 3}, {3, 0}, {0, 3}, {1, 3}, {2, 1}};

TEST(GroupScaler, MultiplierEveryMantissaPairAgainstExactEvaluation) {
  // The datapath function the module wraps, over every (c_x, c_y) of each
  // width pair, a spread of sums and exponents from far below fp32's
  // subnormals (e8m3 scales reach 2^-255 each) to beyond its largest value
  // (exponents above 0 do not occur in a run; they test the overflow to inf).
  const std::vector<std::pair<int, int>> exps = {{0, 0}, {-3, -5}, {-15, -15}, {-60, -66}, {-70, -74}, {-75, -75},
                                                 {-80, -90}, {-130, -100}, {-255, -255}, {40, 40}, {70, 5}};
  const std::vector<int64_t> sums = wide_sums();
  int exact_in_double = 0, checked = 0;
  for (const auto& [mx, my] : kWidePairs) {
    EXPECT_EQ(scaler_form(ScaleFormat{8, mx}, ScaleFormat{8, my}), ScalerForm::multiplier);
    for (uint8_t cx = 0; cx < (1u << mx); ++cx)
      for (uint8_t cy = 0; cy < (1u << my); ++cy)
        for (const auto& [ex, ey] : exps)
          for (int64_t sum : sums) {
            const GroupScale x{int16_t(ex), cx}, y{int16_t(ey), cy};
            const float got = multiply_scale(sum, x, y, mx, my);
            const Exact v = exact_scaling(sum, x, y, mx, my);
            const float want = rational_fp32(v.negative, v.V, v.E);
            ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0)
                << "sum " << sum << " M " << mx << "," << my << " c " << int(cx) << "," << int(cy) << " exp " << ex
                << "," << ey << ": got " << got << " want " << want;
            ++checked;
            if (bit_length(v.V) <= 53) {
              // Exact in double: the one IEEE conversion to float is the reference.
              const double d = std::ldexp(double(uint64_t(v.V)), v.E);
              EXPECT_EQ(got, float(v.negative ? -d : d)) << "sum " << sum << " exp " << ex << "," << ey;
              ++exact_in_double;
            }
          }
  }
  EXPECT_GT(exact_in_double, checked / 3) << "both references carry weight";
}

TEST(GroupScaler, RationalReferenceKnownValues) {
  // The reference itself, on values worked by hand.
  EXPECT_EQ(rational_fp32(false, 3, -150), 0x1p-148f);                  // 1.5 * 2^-149 ties to even: 2 units
  EXPECT_EQ(rational_fp32(false, 1, -150), 0.0f);                       // half the smallest subnormal: to even 0
  EXPECT_EQ(rational_fp32(false, (u128(1) << 24) + 1, 0), 0x1p24f);     // tie below: even
  EXPECT_EQ(rational_fp32(false, (u128(1) << 24) + 3, 0), 0x1p24f + 4);  // tie above: even
  EXPECT_EQ(rational_fp32(true, (u128(1) << 100) - 1, 0), -0x1p100f);
  EXPECT_EQ(rational_fp32(false, 1, 128), std::numeric_limits<float>::infinity());
  EXPECT_EQ(rational_fp32(false, (u128(1) << 24) - 1, 104), 0x1.fffffep127f);
}

TEST(GroupScaler, MultiplierFormInTheModule) {
  // The module with e8m3 x e4m2 scale files: every code pair through the
  // pipeline, counted once as a scaling and once as a multiplication.
  std::vector<ScalerCase> cases;
  for (uint8_t cx = 0; cx < 8; ++cx)
    for (uint8_t cy = 0; cy < 4; ++cy)
      for (int64_t sum : {int64_t{1}, int64_t{-7}, int64_t{32767}, -(int64_t{1} << 45) - 1})
        cases.push_back({sum, GroupScale{int16_t(-3 - cx), cx}, GroupScale{int16_t(-15 + cy), cy}});
  Stats stats;
  ScalerForm form{};
  const std::vector<float> got = run_cases(cases, {62, {8, 3}, {4, 2}}, stats, nullptr, &form);
  EXPECT_EQ(form, ScalerForm::multiplier);
  ASSERT_EQ(got.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const ScalerCase& c = cases[i];
    // |sum| * 15 * 7 < 2^53: the double product is exact.
    const double exact = double(c.sum) * std::ldexp(8.0 + c.x.man, c.x.exp - 3) * std::ldexp(4.0 + c.y.man, c.y.exp - 2);
    EXPECT_EQ(got[i], float(exact)) << "sum " << c.sum << " cx " << int(c.x.man) << " cy " << int(c.y.man);
  }
  EXPECT_EQ(stats.scale, cases.size());
  EXPECT_EQ(stats.scale_mul, cases.size());
}

TEST(GroupScaler, OneWideOperandMakesItAMultiplier) {
  // e8m0 x e4m3 (an OCP MX scale against an NVFP4-like one): the multiplier form.
  Stats stats;
  ScalerForm form{};
  const std::vector<float> got =
      run_cases({{1001, GroupScale{-2, 0}, GroupScale{-4, 5}}}, {16, {8, 0}, {4, 3}}, stats, nullptr, &form);
  EXPECT_EQ(form, ScalerForm::multiplier);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], float(1001 * 0.25 * (13.0 / 8) / 16));
  EXPECT_EQ(stats.scale_mul, 1u);
}

TEST(GroupScaler, DeadMantissaFaultHitsTheMultiplierToo) {
  // --inject-fault scaler-mantissa with e4m3 scales: X's mantissa code reads 0,
  // so every c_X > 0 gives the c_X = 0 result, which the exact value is not.
  std::vector<ScalerCase> cases;
  for (uint8_t cx = 0; cx < 8; ++cx) cases.push_back({1000, GroupScale{-4, cx}, GroupScale{-2, 3}});
  Stats stats;
  ScalerForm form{};
  const std::vector<float> got = run_cases(cases, {16, {4, 3}, {4, 3}, Fault::scaler_mantissa}, stats, nullptr, &form);
  EXPECT_EQ(form, ScalerForm::multiplier);
  ASSERT_EQ(got.size(), cases.size());
  const double broken = 1000.0 * std::ldexp(1.0, -4) * std::ldexp(11.0 / 8, -2);
  for (size_t i = 0; i < cases.size(); ++i) {
    const double exact = 1000.0 * std::ldexp(1.0 + cases[i].x.man / 8.0, -4) * std::ldexp(11.0 / 8, -2);
    EXPECT_EQ(got[i], float(broken)) << "c_x " << i;
    if (i > 0) {
      EXPECT_NE(got[i], float(exact)) << "c_x " << i << ": the fault must show";
    }
  }
  EXPECT_EQ(stats.scale_mul, cases.size());
}

}  // namespace
}  // namespace mls::hw
