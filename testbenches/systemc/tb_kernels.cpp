// The array's kernels (hw_model/kernels/array_kernels.h) against their
// portable twins: the runtime-dispatched forms (an AVX2 clone or the
// hand-written AVX2 multiply-accumulate on a CPU that has AVX2, the baseline
// elsewhere) must give the twins' bits on random and edge inputs.
#include "hw_model/kernels/array_kernels.h"

#include "hw_model/datapath/datapath.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
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
// whole AVX2 vectors (and the 16-wide pairs; up to 4, two rows share one
// vector), 0 and the edge. The
// dispatched kernel (the hand-written AVX2 form, an AVX2 clone or the
// baseline) must give the twin's registers and magnitudes; both must give
// the sums and partial-sum magnitudes of a plain step-by-step 128-bit
// evaluation while the sums stay in the lanes' range.
template <class Lane>
void mac_tile_against_twin(int operand_bits, uint32_t seed) {
  std::mt19937_64 rng(seed);
  const int rows = 5, cols = 40, steps = 7, plane_rows = 40;
  for (int n : {0, 1, 3, 4, 5, 7, 8, 16, 23, 24, 32, 40}) {
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
      std::vector<int64_t> y_at(static_cast<size_t>(rows));
      for (int r = 0; r < rows; ++r) y_at[size_t(r)] = int64_t(r) * steps;  // row r's Y values from r * steps on
      const kernels::TileOperands t{x.data(), cols, gk0.data(), len.data(), y.data(), y_at.data()};
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

// A chunk tile's scaling: random sums up to and past the double form's
// range (kScaleInDouble, its edge and 0), scale codes from deep underflow to
// overflow of fp32 (exponent sums within the double form's range, as the
// group scalers keep them), both scaler forms, rows off, every column count
// to past 16. The dispatched kernel and its twin must give the bits of
// group_scale (the integer scalers past the double form, the double form's
// one rounding otherwise) for every element of a row they report inside,
// and report outside exactly the rows with a sum beyond the double form.
TEST(Kernels, ScaleTileMatchesGroupScaleAndItsTwin) {
  std::mt19937_64 rng(5);
  const int rows = 6, cols = 20;
  for (int trial = 0; trial < 300; ++trial) {
    const int n = int(rng() % (cols + 1)), scale_m = int(rng() % 4);
    const ScalerForm form = scale_m <= 1 && trial % 2 ? ScalerForm::shift_add : ScalerForm::multiplier;
    auto scale = [&](int lo, int span) {
      return GroupScale{int16_t(int(rng() % uint64_t(span)) + lo), uint8_t(rng() % (1u << scale_m))};
    };
    std::vector<int64_t> sum(static_cast<size_t>(rows * cols));
    std::vector<GroupScale> sx(sum.size());
    std::vector<double> x_factor(sum.size()), y_factor(static_cast<size_t>(rows));
    std::vector<const double*> x_rows(static_cast<size_t>(rows));
    std::vector<GroupScale> sy(static_cast<size_t>(rows));
    std::vector<uint8_t> on(static_cast<size_t>(rows)), inside(on.size()), inside_twin(on.size());
    for (int r = 0; r < rows; ++r) {
      on[size_t(r)] = rng() % 6 != 0;
      sy[size_t(r)] = scale(trial % 3 == 0 ? -560 : -100, 200);
      y_factor[size_t(r)] = std::ldexp(double(scale_mantissa(form, sy[size_t(r)], scale_m)), sy[size_t(r)].exp - scale_m);
      x_rows[size_t(r)] = &x_factor[size_t(r * cols)];
      for (int c = 0; c < cols; ++c) {
        const size_t i = size_t(r * cols + c);
        const int bits = int(rng() % 50);
        const int64_t v = trial % 7 == 0 && c == 0 ? kScaleInDouble - int64_t(rng() % 2) : int64_t(rng() >> (64 - std::max(bits, 1)));
        sum[i] = rng() % 9 == 0 ? 0 : rng() & 1 ? -v : v;
        sx[i] = scale(trial % 3 == 0 ? -440 : -100, 200);
        x_factor[i] = std::ldexp(double(scale_mantissa(form, sx[i], scale_m)), sx[i].exp - scale_m);
      }
    }
    const kernels::ScaleRows s{on.data(), x_rows.data(), y_factor.data()};
    std::vector<float> value(sum.size()), twin(sum.size());
    kernels::scale_tile(value.data(), sum.data(), cols, s, inside.data(), rows, n);
    kernels::portable::scale_tile(twin.data(), sum.data(), cols, s, inside_twin.data(), rows, n);
    EXPECT_EQ(inside, inside_twin);
    for (int r = 0; r < rows; ++r) {
      bool beyond = false;
      for (int c = 0; c < n; ++c) beyond = beyond || std::abs(sum[size_t(r * cols + c)]) >= kScaleInDouble;
      EXPECT_EQ(inside[size_t(r)], !(on[size_t(r)] && beyond)) << trial << " row " << r;
      if (!on[size_t(r)] || beyond) continue;
      for (int c = 0; c < n; ++c) {
        const size_t i = size_t(r * cols + c);
        const float want = group_scale(form, sum[i], sx[i], sy[size_t(r)], scale_m, scale_m);
        EXPECT_EQ(bits_of(value[i]), bits_of(want)) << trial << " " << r << " " << c;
        EXPECT_EQ(bits_of(twin[i]), bits_of(want)) << trial << " " << r << " " << c;
      }
    }
  }
}

// The multipliers' Y decode: every code of every element format (E in
// [0, 4], M in [0, 12], both signs, zero and subnormal codes) in spans of
// every length to past two AVX2 vectors, with random X zero counts. The
// dispatched kernel and its twin must give decode_operand's operand_value
// (hw_model/datapath: the multiplier's decoder) and the zero products of a
// plain count: a step's n products are all 0 when its Y value is, else X's
// zeros.
TEST(Kernels, DecodeSpanMatchesTheDecoderAndItsTwin) {
  std::mt19937_64 rng(11);
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 12; ++m) {
      if (e + m < 1) continue;
      const ElemFormat fmt{e, m};
      const uint32_t codes_n = 1u << fmt.bits();
      std::vector<uint32_t> codes(codes_n), x_zeros(codes_n);
      for (uint32_t c = 0; c < codes_n; ++c) codes[c] = c;
      std::shuffle(codes.begin(), codes.end(), rng);
      const uint32_t n = uint32_t(1 + rng() % 64);
      for (uint32_t& z : x_zeros) z = uint32_t(rng() % (n + 1));
      int64_t len = 0;  // spans one after the other: every code once, and an empty one first
      bool empty = true;
      for (int64_t start = 0; start < int64_t(codes_n); start += len, empty = false) {
        len = empty ? 0 : std::min<int64_t>(int64_t(1 + rng() % 20), int64_t(codes_n) - start);
        std::vector<int32_t> y(static_cast<size_t>(len + 1), -7), twin = y;
        const kernels::CodeFormat f{e, m};
        const uint64_t zeros = kernels::decode_span(y.data(), &codes[size_t(start)], &x_zeros[size_t(start)], len, n, f);
        const uint64_t zeros_twin =
            kernels::portable::decode_span(twin.data(), &codes[size_t(start)], &x_zeros[size_t(start)], len, n, f);
        uint64_t want_zeros = 0;
        for (int64_t i = 0; i < len; ++i) {
          const int64_t want = operand_value(decode_operand(fmt, codes[size_t(start + i)]));
          EXPECT_EQ(y[size_t(i)], want) << "e" << e << "m" << m << " code " << codes[size_t(start + i)];
          want_zeros += want == 0 ? n : x_zeros[size_t(start + i)];
        }
        EXPECT_EQ(y[size_t(len)], -7) << "nothing written past the span";
        EXPECT_EQ(twin, y);
        EXPECT_EQ(zeros, want_zeros);
        EXPECT_EQ(zeros_twin, want_zeros);
      }
    }
}

// A row redone product by product: random operands that take the sums past
// narrow and wide accumulator widths (both policies, with and without the
// mul_lsb fault, column counts that are and are not whole vectors). The
// dispatched kernel and its twin must give the registers, overflow count
// and magnitudes of a plain walk with the datapath's accumulate() per
// product beside exact 128-bit sums.
template <class Lane, class Exact>
void redo_row_against_walk(int acc_bits, int operand_bits, uint32_t seed) {
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = int(rng() % 21), len = int(rng() % 10), stride = 24;
    std::vector<int32_t> x(static_cast<size_t>(stride * 10)), y(static_cast<size_t>(10));
    for (int32_t& v : x) v = int32_t(rng() >> (64 - operand_bits)) * (rng() & 1 ? -1 : 1);
    for (int32_t& v : y) v = rng() % 6 == 0 ? 0 : int32_t(rng() >> (64 - operand_bits)) * (rng() & 1 ? -1 : 1);
    const Overflow policy = trial % 2 ? Overflow::wrap : Overflow::saturate;
    const kernels::RedoRow w{x.data(), stride, y.data(), len, n, trial % 5 == 0, acc_bits, policy};
    std::vector<Lane> acc(static_cast<size_t>(n + 1), Lane(99)), prod(acc.size()), acc_twin = acc, prod_twin(acc.size());
    std::vector<Exact> exact(acc.size()), exact_twin(acc.size());
    uint64_t mag = 0, mag_twin = 0;
    unsigned __int128 exact_mag = 0, exact_mag_twin = 0;
    const uint64_t over = kernels::redo_row(acc.data(), exact.data(), prod.data(), w, mag, exact_mag);
    const uint64_t over_twin =
        kernels::portable::redo_row(acc_twin.data(), exact_twin.data(), prod_twin.data(), w, mag_twin, exact_mag_twin);
    EXPECT_EQ(over, over_twin);
    EXPECT_EQ(acc, acc_twin);
    EXPECT_EQ(mag, mag_twin);
    EXPECT_TRUE(exact_mag == exact_mag_twin);
    uint64_t want_over = 0;
    unsigned __int128 want_or = 0;
    for (int c = 0; c < n; ++c) {
      int64_t reg = 0;
      __int128 sum = 0;
      for (int s = 0; s < len; ++s) {
        int64_t product = int64_t(x[size_t(s * stride + c)]) * y[size_t(s)];
        if (w.lsb_fault && c == 0) product |= 1;
        const AccumulateResult a = accumulate(reg, product, acc_bits, policy);
        reg = a.sum, want_over += a.overflow, sum += product;
        want_or |= static_cast<unsigned __int128>(sum < 0 ? -sum - 1 : sum);
      }
      EXPECT_EQ(int64_t(acc[size_t(c)]), reg) << "col " << c;
    }
    EXPECT_EQ(acc[size_t(n)], Lane(99)) << "nothing written past n";
    EXPECT_EQ(over, want_over);
    const unsigned __int128 got_or = mag | exact_mag;
    const auto top = [](unsigned __int128 v) { int b = 0; for (; v; v >>= 1) ++b; return b; };
    EXPECT_EQ(top(got_or), top(want_or)) << "highest bit of the partial sums' magnitudes";
  }
}

TEST(Kernels, RedoRowMatchesAccumulateAndItsTwin) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    redo_row_against_walk<int32_t, int64_t>(8, 6, seed);
    redo_row_against_walk<int32_t, int64_t>(16, 14, seed);  // narrow: products below 2^28
    redo_row_against_walk<int32_t, int64_t>(31, 15, seed);
    redo_row_against_walk<int64_t, __int128>(16, 14, seed);
    redo_row_against_walk<int64_t, __int128>(40, 27, seed);  // products up to 2^54
  }
}

// The hand-over: every register's value of the first n columns of each
// row, sign-extended, and those registers cleared, for every column count
// (all of a row, 4 and others), on files whose sizes are and are not whole
// vectors; extreme values. The other columns' sums and registers stay as
// they were.
template <class Lane>
void hand_over_against_values(uint32_t seed) {
  std::mt19937_64 rng(seed);
  for (auto [rows, cols] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{16, 16}, std::pair{7, 33}, std::pair{2, 4099}})
    for (int n : {0, 1, 3, 4, 8, 16, 17, cols}) {
      if (n > cols) continue;
      const size_t size = size_t(rows) * size_t(cols);
      std::vector<Lane> regs(size), twin_regs;
      for (Lane& v : regs) v = Lane(rng());
      if (size > 1) regs[0] = std::numeric_limits<Lane>::min(), regs[size - 1] = std::numeric_limits<Lane>::max();
      twin_regs = regs;
      const std::vector<Lane> before = regs;
      std::vector<int64_t> sum(size, 7), twin(size, 7);
      kernels::hand_over(sum.data(), regs.data(), rows, cols, n);
      kernels::portable::hand_over(twin.data(), twin_regs.data(), rows, cols, n);
      for (size_t i = 0; i < size; ++i) {
        const bool handed = int(i % size_t(cols)) < n;
        EXPECT_EQ(sum[i], handed ? int64_t(before[i]) : 7) << rows << " x " << cols << ", n " << n << ", " << i;
        EXPECT_EQ(regs[i], handed ? Lane(0) : before[i]) << rows << " x " << cols << ", n " << n << ", " << i;
      }
      EXPECT_EQ(twin, sum);
      EXPECT_EQ(twin_regs, regs);
    }
}

TEST(Kernels, HandOverGivesTheRegistersAndClearsThem) {
  hand_over_against_values<int32_t>(3);
  hand_over_against_values<int64_t>(4);
}

// The tree's reduction of one column as docs/architecture.md and
// adder_tree.h state it, on slots that hold a value or none: slot i of a
// level is slot 2i + slot 2i+1 (an fp32 add) when both hold one, the one
// that does otherwise, an odd last slot moves up; the tree_order fault
// swaps rows 1 and 2 first. Counts the adds.
float tree_by_levels(std::vector<std::pair<bool, float>> slots, bool swap12, uint64_t& adds) {
  if (swap12) std::swap(slots[1], slots[2]);
  while (slots.size() > 1) {
    std::vector<std::pair<bool, float>> next;
    for (size_t i = 0; i + 1 < slots.size(); i += 2) {
      const auto a = slots[i], b = slots[i + 1];
      if (a.first && b.first) next.push_back({true, a.second + b.second}), ++adds;
      else next.push_back(b.first ? b : a);
    }
    if (slots.size() % 2) next.push_back(slots.back());
    slots = next;
  }
  return slots[0].second;
}

// Whole tiles of random values (magnitudes far apart, so the order shows)
// on trees of 1 to 33 rows, every row or some rows with a value (at least one),
// column counts that are and are not whole 8- and 4-lane vectors, with and
// without the tree_order fault: the dispatched kernel and its twin give
// the walk's sums bit for bit and its add count per column.
TEST(Kernels, TreeTileMatchesTheLevelWalkAndItsTwin) {
  std::mt19937_64 rng(5);
  for (int rows : {1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 33})
    for (int n : {1, 3, 4, 5, 8, 12, 13, 16, 21}) {
      for (int trial = 0; trial < 10; ++trial) {
        const int cols = n + int(rng() % 3);
        const bool swap12 = rows >= 4 && trial % 3 == 0;
        std::vector<float> value(size_t(rows) * size_t(cols));
        for (float& v : value) v = std::ldexp(float(int(rng() % 2001) - 1000), int(rng() % 40) - 20);
        std::vector<uint8_t> valid(static_cast<size_t>(rows));
        for (uint8_t& v : valid) v = trial % 2 || rng() % 4 != 0;  // odd trials: every row
        valid[rng() % uint64_t(rows)] = 1;
        const kernels::TreeTile t{value.data(), cols, valid.data(), rows, n, swap12};
        std::vector<float> out(size_t(cols), -1.0f), twin(size_t(cols), -1.0f), scratch(size_t(rows + 1) * 8);
        std::vector<uint8_t> ops(size_t(rows) * 2);
        const uint64_t pairs = kernels::tree_tile(out.data(), t, scratch.data(), ops.data());
        EXPECT_EQ(kernels::portable::tree_tile(twin.data(), t, scratch.data(), ops.data()), pairs);
        for (int c = 0; c < n; ++c) {
          std::vector<std::pair<bool, float>> slots;
          for (int r = 0; r < rows; ++r) slots.push_back({valid[size_t(r)] != 0, value[size_t(r * cols + c)]});
          uint64_t adds = 0;
          const float expect = tree_by_levels(slots, swap12, adds);
          EXPECT_EQ(bits_of(out[size_t(c)]), bits_of(expect)) << rows << " rows, column " << c << " of " << n;
          EXPECT_EQ(bits_of(twin[size_t(c)]), bits_of(expect)) << rows << " rows, column " << c;
          EXPECT_EQ(adds, pairs) << rows << " rows";
        }
        for (int c = n; c < cols; ++c) EXPECT_EQ(out[size_t(c)], -1.0f) << "nothing written past n";
      }
    }
}

}  // namespace
}  // namespace mls::hw
