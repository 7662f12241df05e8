// Group-scaler testbench: the four mantissa cases of <E_g, 1> scales (1, 1.5,
// 1.5, 2.25 times a power of two), rounding of wide sums, gradual underflow.
#include "hw_model/array/group_scaler.h"

#include <cmath>

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

std::vector<float> run_cases(const std::vector<ScalerCase>& cases, int acc_bits, Stats& stats,
                             std::vector<int>* edges = nullptr) {
  ArrayConfig cfg;
  cfg.rows = 1;
  cfg.cols = 1;
  cfg.acc_bits = acc_bits;
  // Case i is output (m = i, p = i) of a one-group job, so it picks its own
  // S_g^X[i] and S_g^Y[i] from the scale register files.
  LayerJob job;
  job.m = job.p = int64_t(cases.size());
  job.g = job.k = 1;
  job.plan = ChunkPlan(1, 1, 1);
  job.x_scale = job.y_scale = ScaleFormat{8, 1};
  Bench bench("bench", [&] { return new GroupScaler("scaler", cfg, &stats); });
  for (size_t i = 0; i < cases.size(); ++i) {
    job.x_scales.push_back(cases[i].x);
    job.y_scales.push_back(cases[i].y);
    ChunkSums s;
    s.tag.valid = s.tag.tile_last = true;
    s.tag.m_tile = s.tag.p = int64_t(i);
    s.row_valid = {1};
    s.active_cols = 1;
    s.sum = {cases[i].sum};
    bench.stimulus.push_back(s);
  }
  bench.dut->load(job);
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
  const std::vector<float> got = run_cases(cases, 16, stats, &edges);
  ASSERT_EQ(got.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const ScalerCase& c = cases[i];
    const double exact = double(c.sum) * scale_value(c.x) * scale_value(c.y);
    EXPECT_EQ(double(got[i]), exact) << "sum " << c.sum << " cx " << int(c.x.man) << " cy " << int(c.y.man)
                                     << ": mantissa products 1, 1.5, 2.25 keep 16-bit sums exact";
    EXPECT_EQ(edges[i], int(i) + 2) << "one register stage";
  }
  EXPECT_EQ(stats.scale, cases.size());
}

TEST(GroupScaler, WideSumsRoundToNearestEven) {
  // 62-bit accumulators: (2^40 + 1) * 2.25 needs 44 bits; fp32 keeps 24.
  std::vector<ScalerCase> cases;
  for (int64_t sum : {(int64_t{1} << 40) + 1, (int64_t{1} << 40) + (int64_t{1} << 17) + 1, -(int64_t{1} << 60) - 12345})
    cases.push_back({sum, GroupScale{-2, 1}, GroupScale{-7, 1}});
  Stats stats;
  const std::vector<float> got = run_cases(cases, 62, stats);
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
  const std::vector<float> got = run_cases(cases, 16, stats);
  for (size_t i = 0; i < cases.size(); ++i) {
    const double exact = double(cases[i].sum) * scale_value(cases[i].x) * scale_value(cases[i].y);
    EXPECT_EQ(got[i], float(exact)) << "sum " << cases[i].sum << " ey " << cases[i].y.exp;
  }
}

}  // namespace
}  // namespace mls::hw
