// The array's kernels (hw_model/kernels/array_kernels.h) against their
// portable twins: the runtime-dispatched forms (an AVX2 clone or the
// hand-written AVX2 multiply on a CPU that has AVX2, the baseline elsewhere)
// must give the twins' bits and counts on random and edge inputs.
#include "hw_model/kernels/array_kernels.h"

#include <cstring>
#include <random>
#include <vector>

#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

std::vector<int32_t> value_table(const ElemFormat& fmt) {
  std::vector<int32_t> table(size_t{1} << fmt.bits());
  for (uint32_t code = 0; code < table.size(); ++code) table[code] = int32_t(operand_value(decode_operand(fmt, code)));
  return table;
}

// Rows x cols codes of `fmt`, some rows idle, some Y codes +0 (zero rows).
Operands random_operands(std::mt19937_64& rng, const ElemFormat& x, const ElemFormat& y, int rows, int cols, int n) {
  Operands in;
  in.active_cols = n;
  in.row_active.resize(size_t(rows));
  in.x.resize(size_t(rows) * size_t(cols));
  in.y.resize(size_t(rows));
  for (int r = 0; r < rows; ++r) {
    in.row_active[size_t(r)] = rng() % 5 != 0;
    in.y[size_t(r)] = rng() % 6 == 0 ? 0u : uint32_t(rng() % (uint64_t{1} << y.bits()));
    for (int c = 0; c < cols; ++c) in.x[size_t(r * cols + c)] = uint32_t(rng() % (uint64_t{1} << x.bits()));
  }
  return in;
}

TEST(Kernels, MultiplyRowsMatchTheirPortableTwins) {
  std::mt19937_64 rng(11);
  const int rows = 8, cols = 24;
  // Wide (e4m12: products up to 2^54) and narrow (e2m4) formats; active
  // column counts that are and are not whole AVX2 vectors, 0 and the edge.
  for (const auto& [fx, fy] : {std::pair{ElemFormat{4, 12}, ElemFormat{4, 12}}, std::pair{ElemFormat{2, 4}, ElemFormat{2, 1}},
                               std::pair{ElemFormat{0, 3}, ElemFormat{3, 0}}}) {
    const std::vector<int32_t> vx = value_table(fx), vy = value_table(fy);
    for (int n : {0, 1, 7, 8, 16, 23, 24}) {
      for (int trial = 0; trial < 20; ++trial) {
        const Operands in = random_operands(rng, fx, fy, rows, cols, n);
        std::vector<int64_t> wide(size_t(rows * cols), -7), wide_twin(wide);
        EXPECT_EQ(kernels::multiply_rows(wide.data(), in, vx.data(), vy.data(), rows, cols),
                  kernels::portable::multiply_rows(wide_twin.data(), in, vx.data(), vy.data(), rows, cols));
        EXPECT_EQ(wide, wide_twin) << fx.name() << " x " << fy.name() << ", n = " << n;
        if (fx.bits() + fy.bits() > 12) continue;  // narrow only where |product| < 2^30
        std::vector<int32_t> narrow(size_t(rows * cols), -7), narrow_twin(narrow);
        EXPECT_EQ(kernels::multiply_rows(narrow.data(), in, code_fields(fx), vy.data(), rows, cols),
                  kernels::portable::multiply_rows(narrow_twin.data(), in, code_fields(fx), vy.data(), rows, cols));
        EXPECT_EQ(narrow, narrow_twin) << fx.name() << " x " << fy.name() << ", n = " << n;
      }
    }
  }
}

template <class T>
void add_rows_against_twin(int acc_bits, int product_bits, uint32_t seed) {
  std::mt19937_64 rng(seed);
  const T bound = T((int64_t{1} << (acc_bits - 1)) - 1);
  for (int n : {0, 1, 5, 8, 33, 64}) {
    std::vector<T> acc(static_cast<size_t>(n)), prod(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Registers near the bounds and at them, products of every size.
      const int64_t edge = rng() % 4 == 0 ? int64_t(bound) : int64_t(rng() % (uint64_t(bound) + 1));
      acc[size_t(i)] = T(rng() & 1 ? -edge - int64_t(rng() % 2) : edge);
      const int64_t p = int64_t(rng() >> (64 - product_bits));
      prod[size_t(i)] = T(rng() & 1 ? -p : p);
    }
    std::vector<T> twin = acc;
    uint64_t mag = 3, mag_twin = 3;
    EXPECT_EQ(kernels::add_rows(acc.data(), prod.data(), n, acc_bits, mag),
              kernels::portable::add_rows(twin.data(), prod.data(), n, acc_bits, mag_twin));
    EXPECT_EQ(acc, twin) << "acc_bits " << acc_bits << ", n = " << n;
    EXPECT_EQ(mag, mag_twin);
  }
}

TEST(Kernels, AddRowsMatchTheirPortableTwins) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    add_rows_against_twin<int64_t>(8, 7, seed);
    add_rows_against_twin<int64_t>(33, 32, seed);
    add_rows_against_twin<int64_t>(62, 54, seed);
    add_rows_against_twin<int32_t>(8, 7, seed);
    add_rows_against_twin<int32_t>(31, 29, seed);
  }
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(Kernels, ScaleRowMatchesItsPortableTwin) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = int(rng() % 40);
    std::vector<int64_t> sum(static_cast<size_t>(n));
    std::vector<int32_t> x_exp(static_cast<size_t>(n)), x_mantissa(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Sums up to and past the double form's range (kScaleInDouble), zero;
      // exponents from deep underflow to overflow.
      const int bits = int(rng() % 50);
      const int64_t s = trial % 7 == 0 && i == 0 ? kScaleInDouble : int64_t(rng() >> (64 - std::max(bits, 1)));
      sum[size_t(i)] = rng() & 1 ? -s : s;
      x_exp[size_t(i)] = int32_t(rng() % 1200) - (trial % 3 == 0 ? 1100 : 600);
      x_mantissa[size_t(i)] = int32_t(1 + rng() % 15);
    }
    const int32_t y_exp = int32_t(rng() % 200) - 100, y_mantissa = int32_t(1 + rng() % 15);
    std::vector<float> value(static_cast<size_t>(n)), twin(static_cast<size_t>(n));
    const bool in_range = kernels::scale_row(value.data(), sum.data(), x_exp.data(), x_mantissa.data(), y_exp,
                                             y_mantissa, n);
    EXPECT_EQ(in_range, kernels::portable::scale_row(twin.data(), sum.data(), x_exp.data(), x_mantissa.data(), y_exp,
                                                     y_mantissa, n));
    if (!in_range) continue;  // the values of a row out of range are not used
    for (int i = 0; i < n; ++i) EXPECT_EQ(bits_of(value[size_t(i)]), bits_of(twin[size_t(i)])) << trial << " " << i;
  }
}

}  // namespace
}  // namespace mls::hw
