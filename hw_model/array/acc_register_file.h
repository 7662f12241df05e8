#pragma once
// The local accumulators' register file: R x C acc_bits-wide two's-complement
// registers held in lanes of `Lane` (int32 when the job's products are narrow
// and acc_bits <= 31, else int64), with what the file must know about its
// rows and its history:
//  - per row, whether it held a chunk in the current tile (the hand-over's
//    row_valid) and whether one of its registers overflowed in the tile
//    (diverged: from then on its exact sums are kept apart, in 128 bits, for
//    width_needed; until then its registers are the exact sums);
//  - the OR of every exact partial sum's magnitude since reset_width().
// A cycle's products are added by the fused multiply-accumulate kernel over
// every active row that has not diverged (kernels::mac_rows, one call per
// cycle), and only when that kernel's magnitude OR leaves the range are the
// rows with a raw sum outside it found and set apart; a diverged row, and
// PE (0,0)'s row under the mul_lsb fault, take the product-by-product path.
// Plain C++ (no SystemC): LocalAccumulator is its clocked wrapper.
#include <cstdint>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "ref/core/config.h"

namespace mls::hw {

template <class Lane>
class AccRegisterFile {
 public:
  AccRegisterFile(int rows, int cols, int acc_bits, Overflow policy);
  // The same registers and history in another lane width (exact: a value
  // of an acc_bits <= 31 register fits either).
  template <class From>
  explicit AccRegisterFile(const AccRegisterFile<From>& from);

  // Adds one cycle's products (active rows, active columns); returns how
  // many additions overflowed.
  uint64_t add(const Products& p);
  // The sums of the tile (and which rows held a chunk); the registers
  // restart from 0 for the next tile.
  void hand_over(ChunkSums& out);
  void clear();  // reset: every register 0, no row used or diverged

  // The narrowest two's-complement width that held every exact partial sum
  // since reset_width(); 1 when every one was 0 or -1.
  int width_needed() const;
  void reset_width() { magnitudes_ = 0, exact_magnitudes_ = 0; }

 private:
  template <class>
  friend class AccRegisterFile;
  enum RowFlag : uint8_t { kUsed = 1, kDiverged = 2 };

  uint64_t diverge_rows(const uint8_t* fused, int n);
  uint64_t add_row_by_product(const Products& p, int r);

  int rows_, cols_, acc_bits_;
  Overflow policy_;
  std::vector<Lane> regs_;        // [R][C]
  std::vector<__int128> exact_;   // [R][C] exact sums, of diverged rows only
  std::vector<uint8_t> row_;      // [R] RowFlag bits
  int diverged_rows_ = 0;         // rows with kDiverged in the current tile
  uint64_t magnitudes_ = 0;                // OR of v ^ (v >> 63) over the exact sums in regs_
  unsigned __int128 exact_magnitudes_ = 0; // the same over exact_ (past 2^63: up to 71 bits)
  // Scratch of one cycle: the rows the fused kernel adds when some row must
  // not (a diverged one, the fault's), a row's products.
  std::vector<uint8_t> fused_;
  std::vector<Lane> products_;
};

}  // namespace mls::hw
