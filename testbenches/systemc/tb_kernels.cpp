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

// A tile's fused multiply-accumulate on a rows x cols register file, from
// registers at 0 (as a tile starts): decoded operands of `operand_bits` bits
// (X per PE and step, Y per row and step, some 0) in an X plane of 40
// buffer rows whose tile rows start at random places, chunk lengths from 0
// to the tile's, some rows off, active column counts that are and are not
// whole AVX2 vectors (and the 16-wide pairs), 0 and the edge. The
// dispatched kernel (the hand-written AVX2 form, an AVX2 clone or the
// baseline) must give the twin's registers and magnitudes; both must give
// the sums and partial-sum magnitudes of a plain step-by-step 128-bit
// evaluation while the sums stay in the lanes' range.
template <class Lane>
void mac_tile_against_twin(int operand_bits, uint32_t seed) {
  std::mt19937_64 rng(seed);
  const int rows = 5, cols = 40, steps = 7, plane_rows = 40;
  for (int n : {0, 1, 7, 8, 16, 23, 24, 32, 40}) {
    for (int trial = 0; trial < 20; ++trial) {
      auto operand = [&] {
        const int32_t v = int32_t(rng() >> (64 - operand_bits));
        return rng() % 8 == 0 ? 0 : rng() & 1 ? -v : v;
      };
      std::vector<int32_t> x(static_cast<size_t>(plane_rows * cols)), y(static_cast<size_t>(rows * steps)), len(static_cast<size_t>(rows));
      std::vector<int64_t> gk0(static_cast<size_t>(rows));
      std::vector<uint8_t> on(static_cast<size_t>(rows));
      for (int32_t& v : x) v = operand();
      for (int32_t& v : y) v = operand();
      for (int r = 0; r < rows; ++r) {
        len[size_t(r)] = int32_t(rng() % (steps + 1));
        gk0[size_t(r)] = int64_t(rng() % uint64_t(plane_rows - steps + 1));
        on[size_t(r)] = rng() % 5 != 0;
      }
      const kernels::TileOperands t{x.data(), cols, gk0.data(), len.data(), y.data(), steps};
      std::vector<Lane> acc(size_t(rows * cols), 0), twin = acc;
      std::vector<uint64_t> mag(static_cast<size_t>(rows)), mag_twin(static_cast<size_t>(rows));
      kernels::mac_tile(acc.data(), cols, t, on.data(), mag.data(), rows, n);
      kernels::portable::mac_tile(twin.data(), cols, t, on.data(), mag_twin.data(), rows, n);
      EXPECT_EQ(mag, mag_twin) << "n = " << n;
      EXPECT_EQ(acc, twin) << "n = " << n;
      for (int r = 0; r < rows; ++r) {  // the plain evaluation
        unsigned __int128 or_of_magnitudes = 0;
        for (int c = 0; c < cols; ++c) {
          __int128 sum = 0;
          for (int32_t s = 0; on[size_t(r)] && c < n && s < len[size_t(r)]; ++s) {
            sum += __int128(x[size_t((gk0[size_t(r)] + s) * cols + c)]) * y[size_t(r * steps + s)];
            or_of_magnitudes |= static_cast<unsigned __int128>(sum < 0 ? -sum - 1 : sum);
          }
          EXPECT_EQ(int64_t(acc[size_t(r * cols + c)]), int64_t(sum)) << "row " << r << " col " << c;
        }
        const uint64_t low = uint64_t(or_of_magnitudes);
        ASSERT_EQ(uint64_t(or_of_magnitudes >> 64), 0u) << "operands keep the sums in 64 bits";
        EXPECT_EQ(mag[size_t(r)] ? 63 - __builtin_clzll(mag[size_t(r)]) : -1, low ? 63 - __builtin_clzll(low) : -1)
            << "highest bit of the partial sums' magnitudes, row " << r;
      }
    }
  }
}

TEST(Kernels, MacTileMatchesItsPortableTwinAndTheSums) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    mac_tile_against_twin<int32_t>(3, seed);   // products below 2^6
    mac_tile_against_twin<int32_t>(13, seed);  // narrow: below 2^26, 7 steps' sums below 2^29
    mac_tile_against_twin<int64_t>(16, seed);
    mac_tile_against_twin<int64_t>(27, seed);  // e4m12's operands: products up to 2^54
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
