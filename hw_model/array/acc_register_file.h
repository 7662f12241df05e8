#pragma once
// The local accumulators' register file: R x C acc_bits-wide two's-complement
// registers held in lanes of `Lane` (int32 when the job's products are narrow
// and acc_bits <= 31, else int64), with what the file must know about its
// rows and its history:
//  - per row, whether it held a chunk in the current tile (the hand-over's
//    row_valid);
//  - the OR of every exact partial sum's magnitude since reset_width() (of
//    the registers while in range, of a row's exact sums, kept apart in 128
//    bits, once one of its registers overflowed in the tile).
// Nothing reads the registers between two hand-overs, so a tile's additions
// are evaluated when it hands over (add_tile), step by step in the order the
// edges bring them: the same sums, overflows and history as adding at every
// edge. The fused multiply-accumulate kernel (kernels::mac_tile) adds every
// row's whole tile with the registers held in vector registers; only a row
// whose partial sums left the range, and PE (0,0)'s row under the mul_lsb
// fault, are then redone product by product with the overflow policy.
// Plain C++ (no SystemC): LocalAccumulator is its clocked wrapper.
#include <cstdint>
#include <type_traits>
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

  // Adds a whole chunk tile's products, every step of every row (`p`: the
  // bundle of the tile's last step, which addresses all of its operands);
  // returns how many additions overflowed.
  uint64_t add_tile(const Products& p);
  // The sums of the tile (and which rows held a chunk); the registers
  // restart from 0 for the next tile.
  void hand_over(ChunkSums& out);
  void clear();  // reset: every register 0, no row used

  // The narrowest two's-complement width that held every exact partial sum
  // since reset_width(); 1 when every one was 0 or -1.
  int width_needed() const;
  void reset_width() { magnitudes_ = 0, exact_magnitudes_ = 0; }

 private:
  template <class>
  friend class AccRegisterFile;

  uint64_t add_row_by_product(const Products& p, int r);

  int rows_, cols_, acc_bits_;
  Overflow policy_;
  std::vector<Lane> regs_;        // [R][C]
  // [C] exact sums of the row being redone, once it overflowed: a tile of
  // narrow products (int32 lanes) sums below 2^46, others below 2^70.
  std::vector<std::conditional_t<sizeof(Lane) == 4, int64_t, __int128>> exact_;
  std::vector<uint8_t> used_;     // [R] the row held a chunk in the current tile
  uint64_t magnitudes_ = 0;                // OR of v ^ (v >> 63) over the exact sums in regs_
  unsigned __int128 exact_magnitudes_ = 0; // the same over exact_ (past 2^63: up to 71 bits)
  // Scratch of one tile: the rows the fused kernel adds, their magnitudes,
  // a row's products.
  std::vector<uint8_t> fused_;
  std::vector<uint64_t> row_magnitudes_;
  std::vector<Lane> products_;
};

}  // namespace mls::hw
