// The golden model's lane kernels (ref/golden/kernels/lane_kernels.h): each
// form the CPU has (AVX2, SSE2, and the one dispatched) against the portable
// twin, and the twin against sums written out here, on random operands and
// on the int16 edges (+-32767, -32768 against small partners, zeros).
#include "ref/golden/kernels/lane_kernels.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

namespace mls::golden_detail::kernels {
namespace {

struct Chunk {
  std::vector<int16_t> x, xa;  // [pair][lane][2]
  std::vector<int32_t> y, ya;  // [pair]: (lo, hi) int16 packed
  int64_t pairs = 0;
};

int32_t pack(int16_t lo, int16_t hi) { return int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16)); }

// Operands of magnitude below 2^bits (0: edge values), so that no int32 sum
// overflows: pairs * 2 * 2^bits * 2^bits < 2^31.
Chunk random_chunk(std::mt19937_64& rng, int64_t pairs, int bits) {
  Chunk c;
  c.pairs = pairs;
  auto value = [&]() -> int16_t {
    if (bits == 0) {
      const int16_t edges[] = {32767, -32767, 0, 1, -1};
      return edges[rng() % 5];
    }
    const int16_t v = int16_t(rng() % (uint64_t{1} << bits));
    return rng() & 1 ? int16_t(-v) : v;
  };
  for (int64_t i = 0; i < pairs * kLanes * 2; ++i) c.x.push_back(value());
  for (int16_t v : c.x) c.xa.push_back(int16_t(std::abs(v)));
  for (int64_t q = 0; q < pairs; ++q) {
    // The edge chunks: Y small (+-1, -32768 only against 0 and 1), X at the edge.
    const int16_t lo = bits ? value() : int16_t(rng() % 3) - 1, hi = bits ? value() : int16_t(rng() % 3) - 1;
    c.y.push_back(pack(lo, hi));
    c.ya.push_back(pack(int16_t(std::abs(lo)), int16_t(std::abs(hi))));
  }
  return c;
}

void expect_same(ChunkSumsFn f, const Chunk& c, int32_t hi, const char* what) {
  int32_t sum[kLanes] = {}, abs_sum[kLanes] = {}, twin[kLanes] = {}, twin_abs[kLanes] = {};
  const bool over = f(c.x.data(), c.xa.data(), c.y.data(), c.ya.data(), c.pairs, hi, sum, abs_sum);
  const bool twin_over =
      portable::chunk_sums(c.x.data(), c.xa.data(), c.y.data(), c.ya.data(), c.pairs, hi, twin, twin_abs);
  EXPECT_EQ(over, twin_over) << what;
  for (int l = 0; l < kLanes; ++l) {
    EXPECT_EQ(sum[l], twin[l]) << what << " lane " << l;
    EXPECT_EQ(abs_sum[l], twin_abs[l]) << what << " lane " << l;
  }
  int32_t unchecked[kLanes] = {};
  EXPECT_FALSE(f(c.x.data(), nullptr, c.y.data(), nullptr, c.pairs, hi, unchecked, nullptr)) << what;
  for (int l = 0; l < kLanes; ++l) EXPECT_EQ(unchecked[l], twin[l]) << what << " unchecked lane " << l;
}

TEST(GoldenKernels, EveryFormMatchesThePortableTwin) {
  std::mt19937_64 rng(21);
  int forms = 0;
  for (const auto& [f, name] : {std::pair{avx2(), "avx2"}, std::pair{sse2(), "sse2"}, std::pair{chunk_sums(), "dispatched"}}) {
    if (!f) continue;
    ++forms;
    for (int64_t pairs : {0, 1, 2, 5, 8, 33})
      for (int bits : {0, 3, 7, 11})
        for (int trial = 0; trial < 10; ++trial) {
          const Chunk c = random_chunk(rng, pairs, bits);
          expect_same(f, c, int32_t(rng() % (uint64_t{1} << 20)), name);
        }
  }
  EXPECT_GE(forms, 1);
}

TEST(GoldenKernels, PortableTwinIsTheDefinition) {
  std::mt19937_64 rng(22);
  const Chunk c = random_chunk(rng, 9, 7);
  int32_t sum[kLanes], abs_sum[kLanes];
  const int32_t hi = 1000;
  const bool over = portable::chunk_sums(c.x.data(), c.xa.data(), c.y.data(), c.ya.data(), c.pairs, hi, sum, abs_sum);
  bool expected_over = false;
  for (int l = 0; l < kLanes; ++l) {
    int64_t s = 0, a = 0;
    for (int64_t q = 0; q < c.pairs; ++q)
      for (int e = 0; e < 2; ++e) {
        const int64_t xv = c.x[size_t((q * kLanes + l) * 2 + e)];
        const int64_t yv = int16_t(uint16_t(uint32_t(c.y[size_t(q)]) >> (16 * e)));
        s += xv * yv;
        a += std::abs(xv) * std::abs(yv);
      }
    EXPECT_EQ(sum[l], s) << l;
    EXPECT_EQ(abs_sum[l], a) << l;
    expected_over = expected_over || a > hi;
  }
  EXPECT_EQ(over, expected_over);
}

}  // namespace
}  // namespace mls::golden_detail::kernels
