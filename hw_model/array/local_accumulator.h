#pragma once
// The R x C local accumulators: acc_bits-wide integer registers that add one
// product per cycle (saturating or wrapping), and at the end of a chunk tile
// hand their sums to the group scalers and restart from 0 with no bubble.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class LocalAccumulator : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<Products> in;
  PipeOut<ChunkSums> out;

  SC_HAS_PROCESS(LocalAccumulator);
  LocalAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats);

  // The narrowest two's-complement accumulator that would have held every
  // partial sum since reset_width(): the exact sums of a wide accumulator
  // (the same products in the same order, never saturated or wrapped), so a
  // run at this acc_bits has no acc_overflow and one bit narrower has some.
  // 1 when every partial sum was 0 or -1.
  int width_needed() const;
  void reset_width() { magnitudes_ = 0, exact_magnitudes_ = 0; }

 private:
  void on_clock();
  void clear();
  // Adds a cycle's products into the registers of their width: the whole
  // array in one loop when every PE is active and no row diverged, else row
  // by row; returns the overflows.
  template <class T>
  uint64_t add_products(std::vector<T>& acc_regs, const std::vector<T>& products,
                        const std::vector<uint8_t>& row_active, bool all_active, int n, uint64_t& magnitudes);
  // After a whole-array add found raw sums out of range: sets those rows
  // apart (diverged_) and applies the overflow policy; returns the overflows.
  template <class T>
  uint64_t diverge_rows(std::vector<T>& acc_regs);
  void use_narrow(bool narrow);  // the registers' width of this cycle's products
  void hand_over(ChunkSums& o, const Products& in_p);

  const int rows_, cols_, acc_bits_;
  const Overflow policy_;
  Stats* stats_;
  std::vector<int64_t> acc_;        // [R][C]
  // The same registers in 32 bits, holding the sums while the products are
  // narrow (Products::narrow); narrow_ says which of the two holds them.
  std::vector<int32_t> acc32_;
  bool narrow_ = false;
  std::vector<int64_t> wide_;       // narrow products widened (acc_bits > 31)
  std::vector<uint8_t> row_used_;   // [R] row held a chunk in the current tile
  // [R][C] the same sums, never saturated or wrapped; a row's are kept only
  // once one of its accumulators overflowed in the tile (diverged_): until
  // then its acc_ is exact.
  std::vector<__int128> exact_;
  std::vector<uint8_t> diverged_;  // [R]
  bool any_diverged_ = false;      // some diverged_ row in the current tile
  // OR of v ^ (v >> 63) over the raw sums of rows that had not diverged since
  // reset_width(): its bit length is the largest magnitude bit length (v for
  // v >= 0, -v - 1 for v < 0).
  uint64_t magnitudes_ = 0;
  // The same OR over the exact_ sums of diverged rows, which may pass 2^63
  // (width_needed up to 71 bits: 2^16 products below 2^54).
  unsigned __int128 exact_magnitudes_ = 0;
};

}  // namespace mls::hw
