// The golden model's Y row gather (ref/golden/kernels/row_gather.h): the
// AVX2 form (where the CPU has it), the dispatched one and the portable twin
// against the definition written out here, element by element: group g's
// slots zero except each chunk's taps, sq[base + g * step + off], at slot
// g * group_slots + slot[c] + k, and each chunk's sum |y|. Random rows with
// every share of zero taps (all real, the AVX2 form's gathers; at most half
// real, its list of real taps; none), chunks of 1 to 16, odd chunks, and
// values at +-(2^15 - 1).
#include "ref/golden/kernels/row_gather.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace mls::golden_detail::kernels {
namespace {

struct Row {
  std::vector<int32_t> sq, off, slot, real_off, real_slot, real_end;
  int64_t groups = 0, per_group = 0, group_slots = 0, base = 0, step = 0, slots = 0;
  RowGather gather() {
    RowGather r;
    r.sq = sq.data(), r.base = base, r.step = step, r.groups = groups, r.per_group = per_group;
    r.off = off.data(), r.slot = slot.data(), r.group_slots = group_slots;
    r.real_off = real_off.data(), r.real_slot = real_slot.data(), r.real_end = real_end.data();
    return r;
  }
};

// real: the probability of a real tap.
Row random_row(std::mt19937_64& rng, double real, bool edge) {
  Row r;
  r.groups = int64_t(rng() % 5) + 1;
  r.per_group = int64_t(rng() % 4) + 1;
  std::vector<int> len(size_t(r.per_group));
  for (int64_t c = 0; c < r.per_group; ++c) {
    len[size_t(c)] = int(rng() % kChunkMax) + 1;
    r.slot.push_back(int32_t(r.group_slots));
    r.group_slots += (len[size_t(c)] + 1) / 2 * 2;
  }
  const int64_t span = 40;  // offsets within a group: [0, span)
  r.step = span + int64_t(rng() % 3);
  r.base = int64_t(rng() % 7);
  r.sq.resize(size_t(r.base + r.groups * r.step + span));
  const int32_t mag = (1 << 15) - 1;
  for (int32_t& v : r.sq) v = edge ? (rng() % 2 ? mag : -mag) : int32_t(rng() % (2 * mag + 1)) - mag;
  std::bernoulli_distribution is_real(real);
  r.off.assign(size_t(r.per_group * kChunkMax), -1);
  for (int64_t c = 0; c < r.per_group; ++c)
    for (int k = 0; k < len[size_t(c)]; ++k)
      if (is_real(rng)) r.off[size_t(c * kChunkMax + k)] = int32_t(rng() % span);
  r.real_off.resize(r.off.size());
  r.real_slot.resize(r.off.size());
  r.real_end.resize(size_t(r.per_group));
  r.slots = r.groups * r.group_slots;
  return r;
}

void expect_definition(Row& row, RowGatherFn fn, const char* name) {
  const RowGather r = row.gather();
  std::vector<int16_t> out(size_t(row.slots + kChunkMax), 7777), want(size_t(row.slots), 0);
  std::vector<int32_t> sums(size_t(row.groups * row.per_group), -1), want_sums(sums.size(), 0);
  for (int64_t g = 0; g < row.groups; ++g)
    for (int64_t c = 0; c < row.per_group; ++c)
      for (int k = 0; k < kChunkMax; ++k) {
        const int32_t o = row.off[size_t(c * kChunkMax + k)];
        if (o < 0) continue;
        const int32_t v = row.sq[size_t(row.base + g * row.step + o)];
        want[size_t(g * row.group_slots + row.slot[size_t(c)] + k)] = int16_t(v);
        want_sums[size_t(g * row.per_group + c)] += v < 0 ? -v : v;
      }
  fn(r, out.data(), sums.data());
  for (int64_t i = 0; i < row.slots; ++i) ASSERT_EQ(out[size_t(i)], want[size_t(i)]) << name << " slot " << i;
  EXPECT_EQ(sums, want_sums) << name;
  std::fill(out.begin(), out.end(), int16_t(7777));
  fn(r, out.data(), nullptr);  // without the sums: the same slots
  for (int64_t i = 0; i < row.slots; ++i) ASSERT_EQ(out[size_t(i)], want[size_t(i)]) << name << " slot " << i;
}

TEST(GoldenRowGather, FormsMatchTheDefinition) {
  std::mt19937_64 rng(25);
  for (int n = 0; n < 3000; ++n) {
    const double real = std::vector<double>{1.0, 0.9, 0.5, 0.25, 0.0}[size_t(n % 5)];
    Row row = random_row(rng, real, n % 7 == 0);
    expect_definition(row, portable::row_gather, "portable");
    expect_definition(row, row_gather(), "dispatched");
    if (row_gather_avx2()) expect_definition(row, row_gather_avx2(), "avx2");
  }
}

// A 3 x 3 window (the AVX2 form's masked loads of three runs of three): one
// chunk of nine per group, Y ending at the last element read; `padded`: taps of the padding (-1) in the runs, a run possibly
// starting before Y's first element; `broken`: one tap moved out of its run
// (the gathers instead).
Row window_row(std::mt19937_64& rng, bool padded, bool broken, bool edge) {
  Row r = random_row(rng, 1.0, edge);
  if (rng() % 2) r.base = 0;
  r.per_group = 1;
  r.slot.assign(1, 0);
  r.group_slots = 10;
  r.slots = r.groups * r.group_slots;
  r.off.assign(size_t(kChunkMax), -1);
  const int32_t span = 40;
  for (int run = 0; run < 3; ++run) {
    // Padding: none, the first tap (the run may start before Y), the last, the whole run.
    const int pad = padded ? int(rng() % 4) : 0;
    const int32_t start = pad == 1 && rng() % 2 ? -1
                          : run == 2 && rng() % 2 ? span - 3
                                                  : int32_t(rng() % uint64_t(span - 2));
    for (int i = 0; i < 3; ++i)
      if (!(pad == 1 && i == 0) && !(pad == 2 && i == 2) && pad != 3) r.off[size_t(3 * run + i)] = start + i;
  }
  if (broken) r.off[rng() % 9] = int32_t(rng() % uint64_t(span));
  r.sq.resize(size_t(r.base + (r.groups - 1) * r.step + span));
  r.real_end.resize(1);
  return r;
}

TEST(GoldenRowGather, WindowRowsMatchTheDefinition) {
  std::mt19937_64 rng(33);
  for (int n = 0; n < 2000; ++n) {
    Row row = window_row(rng, n % 2 == 1, n % 5 == 4, n % 7 == 0);
    expect_definition(row, portable::row_gather, "portable");
    expect_definition(row, row_gather(), "dispatched");
    if (row_gather_avx2()) expect_definition(row, row_gather_avx2(), "avx2");
  }
}

TEST(GoldenRowGather, ListTapsListsTheRealTapsInOrder) {
  std::mt19937_64 rng(7);
  Row row = random_row(rng, 0.5, false);
  const int64_t n = list_taps(row.gather());
  int64_t t = 0;
  for (int64_t c = 0; c < row.per_group; ++c) {
    for (int k = 0; k < kChunkMax; ++k) {
      if (row.off[size_t(c * kChunkMax + k)] < 0) continue;
      EXPECT_EQ(row.real_off[size_t(t)], row.off[size_t(c * kChunkMax + k)]);
      EXPECT_EQ(row.real_slot[size_t(t++)], row.slot[size_t(c)] + k);
    }
    EXPECT_EQ(row.real_end[size_t(c)], t);
  }
  EXPECT_EQ(n, t);
}

}  // namespace
}  // namespace mls::golden_detail::kernels
