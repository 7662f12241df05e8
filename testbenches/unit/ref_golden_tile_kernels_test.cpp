// The golden model's whole-tile kernels (ref/golden/kernels/tile_kernels.h):
// the AVX2 form (where the CPU has it) and the dispatched one against the
// portable twin, bit for bit, and the twin against the definition written out
// here: int64 sums in ascending k, a lane replayed iff one of its partial sums
// leaves [-hi - 1, hi], the value fp32(sum * mx * my * 2^(ex + ey)) from the
// exact integer product, and the pairwise tree over every slot (tree_reduce,
// the sequential walk's). Random tiles, slots of 0 to 33 pairs, and the
// accumulator's edges: partial sums that touch hi and -hi - 1 exactly and
// leave them by one. Each tile runs with and without the per-chunk bounds
// (largest |x|, sum |y|) that let a slot skip its |x| |y| sums: the results
// must not change.
#include "ref/golden/kernels/tile_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "ref/golden/golden_conv.h"

namespace mls::golden_detail::kernels {
namespace {

int32_t pack(int16_t lo, int16_t hi) { return int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16)); }
int16_t half(int32_t packed, int e) { return int16_t(uint16_t(uint32_t(packed) >> (16 * e))); }

// A tile's operands: rows slots of random length over one shared plane, scales
// (2^M + man) * 2^exp kept as their integer mantissa and exponent.
struct Tile {
  int rows = 0, groups = 3;
  int32_t hi = 0;
  int64_t pairs = 0;
  std::vector<int16_t> x;        // [pair][lane][2]
  std::vector<int32_t> y;        // [pair]
  std::vector<LaneSlot> slots;   // slot s is chunk s
  std::vector<int32_t> xmax, ysum;  // [chunk]: largest |x|, sum |y|
  std::vector<int64_t> mx, my;   // [g][lane], [g]: integer mantissas
  std::vector<int> ex, ey;
  std::vector<double> fx, fy;

  TileOperands operands(bool check, bool bounds, bool narrow = false) const {
    TileOperands op;
    op.narrow = narrow;
    op.x = x.data(), op.y = y.data(), op.fx = fx.data(), op.fy = fy.data(), op.hi = hi;
    op.check = check;
    if (check && bounds) op.xmax = xmax.data(), op.ysum = ysum.data();
    return op;
  }
};

// |x|, |y| below 2^bits; `edge`: X in {-1, 0, 1} times 2^bits - 1 against Y in
// {-1, 0, 1}, so partial sums walk in steps of the bound and meet hi exactly.
Tile random_tile(std::mt19937_64& rng, int rows, int bits, bool edge) {
  Tile t;
  t.rows = rows;
  const int64_t mag = (int64_t{1} << bits) - 1;
  t.hi = int32_t(edge ? mag * int64_t(2 + rng() % 3) : int64_t(1 + rng() % (uint64_t{1} << 18)));
  for (int s = 0; s < rows; ++s) {
    const int32_t npairs = int32_t(rng() % 34);
    t.slots.push_back({t.pairs, npairs, int32_t(rng() % uint64_t(t.groups)), s});
    t.pairs += npairs;
  }
  if (t.pairs == 0) {  // the check is signalled by a plane, never empty
    t.slots.back().npairs = 1;
    t.pairs = 1;
  }
  auto value = [&]() {
    const int64_t v = edge ? mag * (int64_t(rng() % 3) - 1) : int64_t(rng() % uint64_t(mag + 1));
    return int16_t(!edge && (rng() & 1) ? -v : v);
  };
  for (int64_t i = 0; i < t.pairs * kLanes * 2; ++i) t.x.push_back(value());
  for (int64_t q = 0; q < t.pairs; ++q) {
    const int16_t lo = edge ? int16_t(int(rng() % 3) - 1) : value(), hi = edge ? int16_t(int(rng() % 3) - 1) : value();
    t.y.push_back(pack(lo, hi));
  }
  for (const LaneSlot& sl : t.slots) {
    int32_t xm = 0, ys = 0;
    for (int64_t q = sl.q0; q < sl.q0 + sl.npairs; ++q) {
      for (int i = 0; i < kLanes * 2; ++i) xm = std::max(xm, std::abs(int32_t(t.x[size_t(q * kLanes * 2 + i)])));
      ys += std::abs(int32_t(half(t.y[size_t(q)], 0))) + std::abs(int32_t(half(t.y[size_t(q)], 1)));
    }
    t.xmax.push_back(xm);
    t.ysum.push_back(ys);
  }
  for (int i = 0; i < t.groups * kLanes; ++i) {
    t.mx.push_back(int64_t(8 + rng() % 8)), t.ex.push_back(int(rng() % 40) - 20);
    t.fx.push_back(std::ldexp(double(t.mx.back()), t.ex.back()));
  }
  for (int g = 0; g < t.groups; ++g) {
    t.my.push_back(int64_t(8 + rng() % 8)), t.ey.push_back(int(rng() % 40) - 20);
    t.fy.push_back(std::ldexp(double(t.my.back()), t.ey.back()));
  }
  return t;
}

// The definition: slot s, lane c.
struct Expected {
  float val = 0;
  bool replay = false;
};

Expected expected(const Tile& t, int s, int c) {
  const LaneSlot& sl = t.slots[size_t(s)];
  int64_t run = 0;
  bool left = false;
  for (int64_t k = 0; k < 2 * int64_t(sl.npairs); ++k) {
    const int64_t q = sl.q0 + k / 2;
    run += int64_t(t.x[size_t((q * kLanes + c) * 2 + k % 2)]) * half(t.y[size_t(q)], int(k % 2));
    left = left || run > t.hi || run < -int64_t(t.hi) - 1;
  }
  const int64_t exact = run * t.mx[size_t(sl.g * kLanes + c)] * t.my[size_t(sl.g)];  // < 2^53
  const float val = static_cast<float>(std::ldexp(double(exact), t.ex[size_t(sl.g * kLanes + c)] + t.ey[size_t(sl.g)]));
  return {val, left};
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// narrow: lanes 8 .. 15 must come out 0 and never replayed.
void expect_tile(TileValuesFn f, const Tile& t, bool check, bool bounds, const char* what, bool narrow = false) {
  std::vector<float> val(size_t(t.rows) * kLanes, -1.0f), twin(val);
  std::vector<uint16_t> replay(size_t(t.rows), 0xFFFF), twin_replay(replay);
  const TileOperands op = t.operands(check, bounds, narrow);
  const bool any = f(op, t.slots.data(), t.rows, val.data(), replay.data());
  const bool twin_any = portable::tile_values(op, t.slots.data(), t.rows, twin.data(), twin_replay.data());
  EXPECT_EQ(any, twin_any) << what;
  bool expected_any = false;
  for (int s = 0; s < t.rows; ++s)
    for (int c = 0; c < kLanes; ++c) {
      const size_t i = size_t(s * kLanes + c);
      const Expected e = narrow && c >= 8 ? Expected{} : expected(t, s, c);
      EXPECT_EQ(bits_of(val[i]), bits_of(twin[i])) << what << " slot " << s << " lane " << c;
      EXPECT_EQ(bits_of(twin[i]), bits_of(e.val)) << what << " slot " << s << " lane " << c;
      if (!check) continue;
      EXPECT_EQ(replay[size_t(s)] >> c & 1, twin_replay[size_t(s)] >> c & 1) << what << " slot " << s << " lane " << c;
      EXPECT_EQ(bool(twin_replay[size_t(s)] >> c & 1), e.replay) << what << " slot " << s << " lane " << c;
      expected_any = expected_any || e.replay;
    }
  EXPECT_EQ(twin_any, expected_any) << what;  // without the check: never
}

TEST(GoldenTileKernels, EveryFormMatchesThePortableTwinAndTheDefinition) {
  std::mt19937_64 rng(31);
  int forms = 0, replays = 0, skipped = 0;
  for (const auto& [f, name] : {std::pair{tile_values_avx2(), "avx2"}, std::pair{tile_values(), "dispatched"}}) {
    if (!f) continue;
    ++forms;
    for (int rows : {1, 3, 16})
      for (int bits : {3, 7, 11})
        for (bool edge : {false, true})
          for (int trial = 0; trial < 6; ++trial) {
            const Tile t = random_tile(rng, rows, bits, edge);
            for (bool check : {false, true})
              for (bool bounds : {false, true})
                for (bool narrow : {false, true}) expect_tile(f, t, check, bounds, name, narrow);
            for (int s = 0; s < rows; ++s) {
              for (int c = 0; c < kLanes; ++c) replays += expected(t, s, c).replay;
              skipped += int64_t(t.xmax[size_t(s)]) * t.ysum[size_t(s)] <= t.hi;
            }
          }
  }
  EXPECT_GE(forms, 1);
  EXPECT_GT(replays, 0);  // the edges do leave the range
  EXPECT_GT(skipped, 20);  // and some slots' bounds let them skip the |x| |y| sums
}

void expect_tree(TreeAddFn f, int rows, std::mt19937_64& rng, const char* what) {
  std::uniform_real_distribution<float> dist(-1e3f, 1e3f);
  std::vector<float> v(size_t(rows) * kLanes), w;
  for (float& e : v) e = dist(rng) * std::ldexp(1.0f, int(rng() % 30) - 15);
  w = v;
  float tot[kLanes], twin[kLanes];
  for (int c = 0; c < kLanes; ++c) tot[c] = twin[c] = dist(rng);
  const std::vector<float> start(tot, tot + kLanes), original = v;
  f(v.data(), rows, tot);
  portable::tree_add(w.data(), rows, twin);
  std::unique_ptr<bool[]> ok(new bool[size_t(rows)]);
  std::fill(ok.get(), ok.get() + rows, true);
  for (int c = 0; c < kLanes; ++c) {
    std::vector<float> column(static_cast<size_t>(rows));
    for (int s = 0; s < rows; ++s) column[size_t(s)] = original[size_t(s * kLanes + c)];
    uint64_t adds = 0;
    const float root = tree_reduce(column.data(), ok.get(), rows, adds);
    EXPECT_EQ(bits_of(tot[c]), bits_of(twin[c])) << what << " rows " << rows << " lane " << c;
    EXPECT_EQ(bits_of(twin[c]), bits_of(start[size_t(c)] + root)) << what << " rows " << rows << " lane " << c;
  }
}

TEST(GoldenTileKernels, TreeAddIsThePairwiseTree) {
  std::mt19937_64 rng(32);
  int forms = 0;
  for (const auto& [f, name] : {std::pair{tree_add_avx2(), "avx2"}, std::pair{tree_add(), "dispatched"}}) {
    if (!f) continue;
    ++forms;
    for (int rows : {1, 2, 3, 5, 7, 8, 12, 16, 31, 64})
      for (int trial = 0; trial < 4; ++trial) expect_tree(f, rows, rng, name);
  }
  EXPECT_GE(forms, 1);
}

}  // namespace
}  // namespace mls::golden_detail::kernels

namespace mls::golden_detail::kernels {
namespace {

// The replay kernel against the sequential walk written out here (accumulate()
// per product, k in ascending order), every lane of a random mask, both
// policies, accumulators from 8 to 30 bits.
TEST(GoldenTileKernels, ReplayIsTheSequentialWalk) {
  std::mt19937_64 rng(33);
  int forms = 0;
  uint64_t overflowed = 0;
  for (const auto& [f, name] :
       {std::pair{replay_avx2(), "avx2"}, std::pair{replay(), "dispatched"}, std::pair{ReplayFn(portable::replay), "portable"}}) {
    if (!f) continue;
    ++forms;
    for (int bits : {7, 11, 15})
      for (bool edge : {false, true})
        for (int trial = 0; trial < 8; ++trial) {
          const Tile t = random_tile(rng, 16, std::min(bits, 14), edge);
          const TileOperands op = t.operands(true, false);
          for (const LaneSlot& sl : t.slots)
            for (int acc_bits : {8, 12, 16, 20, 30})
              for (bool wrap : {false, true}) {
                const uint16_t mask = uint16_t(rng());
                int32_t sums[kLanes];
                const uint64_t got = f(op, sl, mask, acc_bits, wrap, sums);
                uint64_t want = 0;
                for (int c = 0; c < kLanes; ++c) {
                  if (!(mask >> c & 1)) continue;
                  int64_t sum = 0;
                  for (int64_t k = 0; k < 2 * int64_t(sl.npairs); ++k) {
                    const int64_t q = sl.q0 + k / 2;
                    const int64_t product = int64_t(t.x[size_t((q * kLanes + c) * 2 + k % 2)]) * half(t.y[size_t(q)], int(k % 2));
                    sum = accumulate(sum, product, acc_bits, wrap ? Overflow::wrap : Overflow::saturate, want);
                  }
                  ASSERT_EQ(sums[c], sum) << name << " lane " << c << " acc_bits " << acc_bits << " wrap " << wrap;
                }
                ASSERT_EQ(got, want) << name << " acc_bits " << acc_bits << " wrap " << wrap;
                overflowed += want;
              }
        }
  }
  EXPECT_GE(forms, 2);
  EXPECT_GT(overflowed, 0u);  // the walks do leave the range
}

}  // namespace
}  // namespace mls::golden_detail::kernels
