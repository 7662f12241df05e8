// The array's kernels (hw_model/kernels/array_kernels.h) against their
// portable twins: the runtime-dispatched forms (an AVX2 clone or the
// hand-written AVX2 multiply-accumulate on a CPU that has AVX2, the baseline
// elsewhere) must give the twins' bits on random and edge inputs.
#include "hw_model/kernels/array_kernels.h"

#include "hw_model/datapath/datapath.h"

#include <cstring>
#include <random>
#include <vector>

#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

// One cycle's fused multiply-accumulate on a rows x cols register file:
// registers near the acc_bits bounds (so raw sums leave the range), decoded
// operands of `operand_bits` bits (X per PE, Y per row, some Y 0), some rows
// off, active column counts that are and are not whole AVX2 vectors, 0 and
// the edge. The dispatched kernel (the hand-written AVX2 form, an AVX2 clone
// or the baseline) must give the twin's registers and magnitude OR.
template <class Lane>
void mac_rows_against_twin(int acc_bits, int operand_bits, uint32_t seed) {
  std::mt19937_64 rng(seed);
  const int rows = 5, cols = 24;
  const int64_t bound = (int64_t{1} << (acc_bits - 1)) - 1;
  for (int n : {0, 1, 7, 8, 16, 23, 24}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<Lane> acc(static_cast<size_t>(rows * cols));
      for (Lane& a : acc) {
        const int64_t edge = rng() % 4 == 0 ? bound : int64_t(rng() % uint64_t(bound + 1));
        a = Lane(rng() & 1 ? -edge - int64_t(rng() % 2) : edge);
      }
      std::vector<int32_t> x(static_cast<size_t>(rows * cols)), y(static_cast<size_t>(rows));
      std::vector<const int32_t*> x_rows;
      std::vector<uint8_t> on(static_cast<size_t>(rows));
      auto operand = [&] {
        const int32_t v = int32_t(rng() >> (64 - operand_bits));
        return rng() & 1 ? -v : v;
      };
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) x[size_t(r * cols + c)] = rng() % 8 == 0 ? 0 : operand();
        y[size_t(r)] = rng() % 6 == 0 ? 0 : operand();
        on[size_t(r)] = rng() % 5 != 0;
        x_rows.push_back(&x[size_t(r * cols)]);
      }
      std::vector<Lane> twin = acc;
      const uint64_t mag = kernels::mac_rows(acc.data(), x_rows.data(), y.data(), on.data(), rows, cols, n);
      const uint64_t mag_twin =
          kernels::portable::mac_rows(twin.data(), x_rows.data(), y.data(), on.data(), rows, cols, n);
      EXPECT_EQ(mag, mag_twin) << "acc_bits " << acc_bits << ", n = " << n;
      EXPECT_EQ(acc, twin) << "acc_bits " << acc_bits << ", n = " << n;
    }
  }
}

TEST(Kernels, MacRowsMatchTheirPortableTwins) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    mac_rows_against_twin<int32_t>(8, 3, seed);    // products below 2^6
    mac_rows_against_twin<int32_t>(31, 14, seed);  // narrow: below 2^28, raw sums below 2^31
    mac_rows_against_twin<int64_t>(33, 16, seed);
    mac_rows_against_twin<int64_t>(62, 27, seed);  // e4m12's operands: products up to 2^54
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
