#include "hw_model/array/acc_register_file.h"

#include <algorithm>

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

template <class Lane>
AccRegisterFile<Lane>::AccRegisterFile(int rows, int cols, int acc_bits, Overflow policy)
    : rows_(rows),
      cols_(cols),
      acc_bits_(acc_bits),
      policy_(policy),
      regs_(size_t(rows) * size_t(cols), 0),
      exact_(regs_.size(), 0),
      row_(size_t(rows), 0),
      fused_(size_t(rows), 0),
      products_(size_t(cols), 0) {}

template <class Lane>
template <class From>
AccRegisterFile<Lane>::AccRegisterFile(const AccRegisterFile<From>& from)
    : AccRegisterFile(from.rows_, from.cols_, from.acc_bits_, from.policy_) {
  std::copy(from.regs_.begin(), from.regs_.end(), regs_.begin());
  exact_ = from.exact_;
  row_ = from.row_;
  diverged_rows_ = from.diverged_rows_;
  magnitudes_ = from.magnitudes_;
  exact_magnitudes_ = from.exact_magnitudes_;
}

template <class Lane>
void AccRegisterFile<Lane>::clear() {
  std::fill(regs_.begin(), regs_.end(), Lane(0));
  std::fill(exact_.begin(), exact_.end(), 0);
  std::fill(row_.begin(), row_.end(), uint8_t(0));
  diverged_rows_ = 0;
}

template <class Lane>
int AccRegisterFile<Lane>::width_needed() const {
  // v >= 0 needs bit_length(v) + 1 bits, v < 0 needs bit_length(-v - 1) + 1.
  int bit_length = 0;
  for (unsigned __int128 v = magnitudes_ | exact_magnitudes_; v; v >>= 1) ++bit_length;
  return 1 + bit_length;
}

template <class Lane>
uint64_t AccRegisterFile<Lane>::add(const Products& p) {
  static_assert(kUsed == 1 && kDiverged == 2, "the flags' bits are used directly below");
  const int n = p.active_cols;
  // Plain pointers: through the vectors the compiler would reload each
  // vector's data pointer after every store (they might alias).
  const uint8_t* active = p.row_active.data();
  uint8_t* row = row_.data();
  for (int r = 0; r < rows_; ++r) row[r] |= uint8_t(active[r] != 0);  // kUsed
  // Every active row adds in the fused kernel unless some row diverged in
  // this tile or the fault's row is active (then the per-row split below).
  const uint8_t* fused = active;
  bool by_product = false;
  if (diverged_rows_ || p.lsb_fault) {
    uint8_t* split = fused_.data();
    uint8_t slow_rows = 0;
    for (int r = 0; r < rows_; ++r) {
      const uint8_t on = active[r] != 0;
      const uint8_t slow = on & ((row[r] >> 1) | uint8_t(p.lsb_fault && r == 0));  // kDiverged, or the fault's row
      split[r] = on & uint8_t(slow ^ 1);
      slow_rows |= slow;
    }
    fused = split;
    by_product = slow_rows != 0;
  }
  // The rows that had not diverged hold exact sums: so are the raw sums.
  const uint64_t mag = kernels::mac_rows(regs_.data(), p.x_rows.data(), p.y.data(), fused, rows_, cols_, n);
  magnitudes_ |= mag;
  uint64_t overflows = exceeds_range(mag, acc_bits_) ? diverge_rows(fused, n) : 0;
  if (by_product)
    for (int r = 0; r < rows_; ++r)
      if (active[r] && !fused[r]) overflows += add_row_by_product(p, r);
  return overflows;
}

template <class Lane>
uint64_t AccRegisterFile<Lane>::diverge_rows(const uint8_t* fused, int n) {
  // A fused row with a raw sum out of the range keeps its raw sums (exact)
  // as its exact sums and takes the overflow policy.
  uint64_t overflows = 0;
  const uint64_t half = uint64_t{1} << (acc_bits_ - 1);
  for (int r = 0; r < rows_; ++r) {
    if (!fused[r]) continue;
    Lane* acc = &regs_[size_t(r) * size_t(cols_)];
    uint64_t out_of_range = 0;
    for (int c = 0; c < n; ++c) out_of_range |= (uint64_t(int64_t(acc[c])) + half) >> acc_bits_;
    if (!out_of_range) continue;
    std::copy(acc, acc + cols_, &exact_[size_t(r) * size_t(cols_)]);
    row_[size_t(r)] |= kDiverged;
    ++diverged_rows_;
    overflows += saturate_or_wrap_row(acc, n, acc_bits_, policy_);
  }
  return overflows;
}

// A row product by product (Products::product): a diverged row adds into its
// exact sums too; a row that has not diverged (the mul_lsb fault's row 0)
// does what the fused kernel does.
template <class Lane>
uint64_t AccRegisterFile<Lane>::add_row_by_product(const Products& p, int r) {
  const int n = p.active_cols;
  for (int c = 0; c < n; ++c) products_[size_t(c)] = Lane(p.product(r, c));
  Lane* acc = &regs_[size_t(r) * size_t(cols_)];
  __int128* exact = &exact_[size_t(r) * size_t(cols_)];
  uint64_t raw_magnitudes = 0;
  if (row_[size_t(r)] & kDiverged) {
    add_row_exact(exact, products_.data(), n, exact_magnitudes_);
    if (!add_row_unchecked(acc, products_.data(), n, acc_bits_, raw_magnitudes)) return 0;
    return saturate_or_wrap_row(acc, n, acc_bits_, policy_);
  }
  const bool out_of_range = add_row_unchecked(acc, products_.data(), n, acc_bits_, raw_magnitudes) != 0;
  magnitudes_ |= raw_magnitudes;  // exact sums
  if (!out_of_range) return 0;
  std::copy(acc, acc + cols_, exact);
  row_[size_t(r)] |= kDiverged;
  ++diverged_rows_;
  return saturate_or_wrap_row(acc, n, acc_bits_, policy_);
}

template <class Lane>
void AccRegisterFile<Lane>::hand_over(ChunkSums& out) {
  out.row_valid.resize(size_t(rows_));
  for (int r = 0; r < rows_; ++r) out.row_valid[size_t(r)] = row_[size_t(r)] & kUsed;
  out.sum.assign(regs_.begin(), regs_.end());
  std::fill(regs_.begin(), regs_.end(), Lane(0));
  std::fill(row_.begin(), row_.end(), uint8_t(0));
  diverged_rows_ = 0;
}

template class AccRegisterFile<int32_t>;
template class AccRegisterFile<int64_t>;
template AccRegisterFile<int32_t>::AccRegisterFile(const AccRegisterFile<int64_t>&);
template AccRegisterFile<int64_t>::AccRegisterFile(const AccRegisterFile<int32_t>&);

}  // namespace mls::hw
