#pragma once
// The golden model's rows with few real taps (a stride-2 backward-data
// pass's zero-insertion taps, padding): rows whose real taps (offset >= 0)
// are the same in every local chunk share one TapVariant, X's int16 plane
// with only those taps of every chunk, in k order, and the tiles' slots over
// it; their Y rows are gathered likewise. A zero tap adds a zero product:
// leaving it out changes no chunk's sum and no partial sum (each stays
// where it was), so neither a result nor the overflow count. Internal to
// ref/golden (kernels/lanes_int16.cpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "ref/golden/fast_pass.h"
#include "ref/golden/kernels/tile_kernels.h"

namespace mls::golden_detail {

struct TapVariant {
  std::vector<uint16_t> key;             // per local chunk: bit k set where its tap k is real
  std::vector<int16_t> xt;               // [block][pair][lane][2], the real taps only
  int64_t pairs = 0;                     // pairs per block
  std::vector<int64_t> pair_off;         // per chunk: its first pair
  std::vector<int32_t> len;              // per chunk: its real taps
  std::vector<int32_t> slot;             // per local chunk: its first int16 slot in a group's (row_gather's)
  int64_t group_slots = 0;               // int16 slots per group
  std::vector<kernels::LaneSlot> slots;  // [tile][slot]: the tiles' busy slots over xt
};

// The full plane the variants are cut from (LanePass's): chunks of at most
// 16 elements, per_group per group, every group's the same.
struct FullPlane {
  const std::vector<int16_t>& xt;         // [block][pair][lane][2]
  int64_t blocks, pairs, per_group;
  const std::vector<int64_t>& pair_off;   // per chunk
  const std::vector<SlotChunk>& tiles;    // FastPass::slots
};

class TapVariants {
 public:
  explicit TapVariants(int64_t budget_bytes) : budget_(budget_bytes) {}
  // The variant of the rows whose local chunks' real taps are key[0 ..
  // per_group - 1], built on first use; nullptr once its plane would pass
  // the budget (such rows keep the full plane).
  const TapVariant* find(const uint16_t* key, const FullPlane& full);
  // The variant of a row whose offsets per local chunk are off ([per_group][16],
  // -1 for a zero tap) where at most half of its k taps are real, else
  // nullptr; with a variant, compact_off gets each chunk's real offsets first
  // (then -1), row_gather's table for the variant's layout. key: room for per_group.
  const TapVariant* of_row(const int32_t* off, int64_t k, const FullPlane& full, uint16_t* key, int32_t* compact_off);

 private:
  std::unique_ptr<TapVariant> build(const uint16_t* key, const FullPlane& full) const;
  std::vector<std::unique_ptr<TapVariant>> v_;
  size_t last_ = 0;  // the last one found
  int64_t budget_, used_ = 0;
};

}  // namespace mls::golden_detail
