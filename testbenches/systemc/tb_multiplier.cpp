// Multiplier testbench: every pair of element codes of a format, checked
// against the product of the magnitudes defined in docs/reference.md#the-mls-number-format, one pipeline stage.
#include "hw_model/array/multiplier.h"

#include <algorithm>
#include <cstdlib>

#include "testbenches/systemc/block_bench.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

// docs/reference.md#the-mls-number-format, written out: exp code 0 holds q = m; code b+1 holds (2^M + m) * 2^b.
int64_t spec_signed_q(int e, int m, uint32_t bits) {
  const uint32_t man = bits & ((1u << m) - 1), exp = e ? (bits >> m) & ((1u << e) - 1) : 0;
  const int64_t q = exp == 0 ? int64_t(man) : (int64_t(1 << m) + man) << (exp - 1);
  return (bits >> (e + m)) & 1u ? -q : q;
}

// Every X code of x_format against every Y code of y_format (W and A of a
// forward pass, which may be quantized to different formats): one X buffer
// row holding every X code (the columns of one m-tile), one cycle per Y code.
// The products are marked narrow exactly when every |qx * qy| is below 2^30
// (docs/architecture.md). `idle_cols`: the last columns idle.
void check_all_pairs(const char* x_format, const char* y_format, int idle_cols = 0) {
  MlsConfig cfg;
  cfg.quant.weight.elem = parse_elem_format(x_format);
  cfg.quant.input.elem = parse_elem_format(y_format);
  const ElemFormat fx = cfg.quant.weight.elem, fy = cfg.quant.input.elem;
  const int x_codes = 1 << fx.bits(), y_codes = 1 << fy.bits();
  cfg.array.rows = 1;
  cfg.array.cols = x_codes;
  LayerJob job;
  job.m = x_codes, job.g = 1, job.k = 1;
  job.x_elem = fx, job.y_elem = fy;
  for (int x = 0; x < x_codes; ++x) job.x_codes.push_back(uint32_t(x));
  Stats stats;
  tb::BlockBench<Operands, Products, Multiplier> bench("bench", [&] { return new Multiplier(cfg, &stats); });
  bench.dut->load(job);
  // One cycle per Y code (a one-step tile of one row), every X code in a column.
  TileRows tile;
  tile.len = {1}, tile.g = {0}, tile.k0 = {0}, tile.gk0 = {0}, tile.active_at = {1}, tile.row_steps = 1, tile.steps = 1;
  plan_y_runs(tile);
  std::vector<uint32_t> y_rows;  // Y row y holds code y at (g, k) = (0, 0)
  for (int y = 0; y < y_codes; ++y) y_rows.push_back(uint32_t(y));
  job.y = YRows::stored(1, 1, y_rows, std::vector<GroupScale>(size_t(y_codes)));
  for (int y = 0; y < y_codes; ++y) {
    Operands op;
    op.tag.valid = true;
    op.tag.p = y;
    op.tag.tile_last = true;
    op.rows = &tile;
    op.active_cols = x_codes - idle_cols;
    op.x_codes = job.x_codes.data(), op.x_stride = x_codes, op.first_m = 0;
    op.y_rows = &job.y;  // the tile's p is y
    bench.stimulus.push_back(op);
  }
  // The products as the local accumulators see them, at the edge they do.
  std::vector<std::vector<int64_t>> products;
  bench.on_seen = [&](int, const Products& out) {
    std::vector<int64_t> row;
    for (int x = 0; x < out.active_cols; ++x) row.push_back(out.product(0, x));
    products.push_back(row);
  };
  bench.run(2);
  ASSERT_EQ(bench.seen.size(), size_t(y_codes));
  ASSERT_EQ(products.size(), size_t(y_codes));
  uint64_t zero_products = 0;
  int64_t largest_x = 0, largest_y = 0;
  for (int x = 0; x < x_codes; ++x) largest_x = std::max(largest_x, std::abs(spec_signed_q(fx.e, fx.m, uint32_t(x))));
  for (int y = 0; y < y_codes; ++y) largest_y = std::max(largest_y, std::abs(spec_signed_q(fy.e, fy.m, uint32_t(y))));
  const bool narrow = largest_x * largest_y < (int64_t{1} << 30);
  for (size_t i = 0; i < bench.seen.size(); ++i) {
    const auto& [edge, out] = bench.seen[i];
    ASSERT_EQ(out.narrow, narrow) << x_format << " x " << y_format;
    const int y = int(out.tag.p);
    EXPECT_EQ(edge, y + 2) << "one register stage";
    ASSERT_EQ(products[i].size(), size_t(x_codes - idle_cols));
    for (int x = 0; x < x_codes - idle_cols; ++x) {
      const int64_t qx = spec_signed_q(fx.e, fx.m, uint32_t(x));
      const int64_t qy = spec_signed_q(fy.e, fy.m, uint32_t(y));
      ASSERT_EQ(products[i][size_t(x)], qx * qy) << x_format << " x code " << x << ", " << y_format << " y code " << y;
      zero_products += qx == 0 || qy == 0;
    }
  }
  EXPECT_EQ(stats.mul, uint64_t(x_codes - idle_cols) * uint64_t(y_codes));
  EXPECT_EQ(stats.mul_zero, zero_products);
}

TEST(Multiplier, AllPairsE2M4) { check_all_pairs("e2m4", "e2m4"); }
TEST(Multiplier, AllPairsE2M1) { check_all_pairs("e2m1", "e2m1"); }
TEST(Multiplier, AllPairsE0M4) { check_all_pairs("e0m4", "e0m4"); }
TEST(Multiplier, AllPairsE3M3) { check_all_pairs("e3m3", "e3m3"); }
TEST(Multiplier, AllPairsE2M1TimesE3M2) { check_all_pairs("e2m1", "e3m2"); }
TEST(Multiplier, AllPairsE4M3TimesE0M5) { check_all_pairs("e4m3", "e0m5"); }
// Not narrow: e4m3 x e4m3 reaches 245,760^2 > 2^30.
TEST(Multiplier, AllPairsE4M3) { check_all_pairs("e4m3", "e4m3"); }
TEST(Multiplier, AllPairsE2M4ThreeIdleColumns) { check_all_pairs("e2m4", "e2m4", 3); }
TEST(Multiplier, AllPairsE3M3FiveIdleColumns) { check_all_pairs("e3m3", "e3m3", 5); }

TEST(Multiplier, LargestE2M4ProductIs15376ShiftedBy4) {
  // docs/reference.md#the-mls-number-format: e2m4's largest magnitude is q = 31 << 2, so the largest product is
  // a 5 x 5-bit multiply 31 * 31 = 961 shifted by 4: 15,376.
  const ElemFormat f = parse_elem_format("e2m4");
  const MulOperand top = decode_operand(f, (3u << 4) | 15u);
  EXPECT_EQ(top.mantissa, 31);
  EXPECT_EQ(top.shift, 2);
  EXPECT_EQ(multiply(top, top), 15376);
}

TEST(Multiplier, NegativeProductsShiftWithoutUndefinedBehaviour) {
  // A negative mantissa product shifted left: undefined in C++17 when written
  // as a signed shift, so UBSan (docs/testing.md, "Sanitizers") fails this test
  // if the datapath does that. Every sign combination of every e3m3 code pair.
  const ElemFormat f = parse_elem_format("e3m3");
  for (uint32_t a = 0; a < (1u << f.bits()); ++a)
    for (uint32_t b = 0; b < (1u << f.bits()); ++b) {
      const int64_t qa = spec_signed_q(f.e, f.m, a), qb = spec_signed_q(f.e, f.m, b);
      ASSERT_EQ(multiply(decode_operand(f, a), decode_operand(f, b)), qa * qb) << a << " x " << b;
    }
  const MulOperand top = decode_operand(f, (1u << 6) | (7u << 3) | 7u);  // -15 << 6
  EXPECT_EQ(multiply(top, decode_operand(f, (7u << 3) | 7u)), -(225 << 12));
}

}  // namespace
}  // namespace mls::hw
