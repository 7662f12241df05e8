#pragma once
// The golden model's Y row gather (never shared with the array's Y fill,
// hw_model/): one separable Y row (lowering.h's SeparableRows) straight into
// the int16 pairs the tile kernels read. Every group has the same chunks
// (at most kChunkMax = 16 elements each) and the same tap offsets; local
// chunk c of group g starts at int16 slot g * group_slots + slot[c] of the
// row and holds
//   out[k] = off[c][k] < 0 ? 0 : sq[base + g * step + off[c][k]]   (k < 16)
// where off[c] is the row's tap offsets of the chunk's k, -1 for a zero
// (zero-insertion or padding) tap and past the chunk's length (so an odd
// chunk's last high half is 0). Group g's other slots are zero. With sums
// given, sums[g * per_group + c] = sum |out[k]| over the chunk. The kernels
// may write 16 int16 past the row (the caller leaves that slack). |sq| <=
// 2^15 - 1 at every offset read. list_taps fills the row's list of real
// taps (offset >= 0), which the AVX2 form walks where at most half are real
// (else it gathers each chunk with two masked gathers); a row of one 3 x 3
// window per group (three runs of three taps, padding taps -1) it loads as
// three masked loads per group, no gather. Runtime dispatch:
// AVX2 where the CPU has it, else the portable twin
// (testbenches/unit/ref_golden_row_gather_test.cpp compares the two).
#include <cstdint>

namespace mls::golden_detail::kernels {

constexpr int kChunkMax = 16;

struct RowGather {
  const int32_t* sq = nullptr;  // Y's elements
  int64_t base = 0, step = 0;   // the row's base and group step
  int64_t groups = 0, per_group = 0;
  const int32_t* off = nullptr;   // [per_group][kChunkMax]
  const int32_t* slot = nullptr;  // [per_group]: local chunk c's first int16 slot in a group
  int64_t group_slots = 0;        // int16 slots per group
  // list_taps' list: per real tap in k order its offset and int16 slot in a
  // group; real_end[c]: where local chunk c's taps end (room: per_group * kChunkMax each).
  int32_t *real_off = nullptr, *real_slot = nullptr, *real_end = nullptr;
};

// out: the row's int16 slots (plus 16 of slack); sums: nullptr or [groups * per_group].
using RowGatherFn = void (*)(const RowGather& r, int16_t* out, int32_t* sums);

RowGatherFn row_gather();  // the form this CPU runs (picked once)

// Fills r's real-tap list from off and slot; returns the number of real taps.
int64_t list_taps(const RowGather& r);

namespace portable {
void row_gather(const RowGather& r, int16_t* out, int32_t* sums);
}
RowGatherFn row_gather_avx2();  // nullptr where the CPU or the target has no AVX2

}  // namespace mls::golden_detail::kernels
