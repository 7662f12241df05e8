#pragma once
// The R x C local accumulators: acc_bits-wide integer registers that add one
// product per cycle (saturating or wrapping), and at the end of a chunk tile
// hand their sums to the group scalers and restart from 0 with no bubble.
// Nothing outside reads the registers between two hand-overs, so the block
// adds a tile's products when the tile's last step reaches it, all steps in
// order (AccRegisterFile::add_tile): the sums, overflows and widths of adding
// one step per edge, handed over at the same edge.
// The registers are one register file (AccRegisterFile) in the lane width the
// products allow: 32 bits when they are narrow (Products::narrow) and
// acc_bits <= 31, else 64.
#include <variant>

#include "hw_model/array/acc_register_file.h"
#include "hw_model/channels/bundles.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class LocalAccumulator {
 public:
  static constexpr const char* kName = "local_accumulator";  // in the stats registry and the VCD file
  using In = Products;
  using Out = ChunkSums;
  static constexpr int kNarrowAccBits = 31;  // 32-bit lanes up to this width

  LocalAccumulator(const ArrayConfig& cfg, Stats* stats);
  void edge(const Products& in, ChunkSums& out, bool rst);
  // A tile's additions, counted whole at its first step (edge(), and
  // MacArray's quiet edges when they pass a first step).
  void count_adds(const Products& first) { stats_->acc_add += first.rows->row_steps * uint64_t(first.active_cols); }

  // The narrowest two's-complement accumulator that would have held every
  // partial sum since reset_width(): the exact sums of a wide accumulator
  // (the same products in the same order, never saturated or wrapped), so a
  // run at this acc_bits has no acc_overflow and one bit narrower has some.
  // 1 when every partial sum was 0 or -1.
  int width_needed() const;
  void reset_width();

 private:
  void use_lanes(bool narrow);

  const int acc_bits_;
  Stats* stats_;
  std::variant<AccRegisterFile<int64_t>, AccRegisterFile<int32_t>> regs_;
};

}  // namespace mls::hw
