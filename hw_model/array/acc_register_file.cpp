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
      exact_(size_t(cols), 0),
      used_(size_t(rows), 0),
      fused_(size_t(rows), 0),
      row_magnitudes_(size_t(rows), 0),
      products_(size_t(cols), 0) {}

template <class Lane>
template <class From>
AccRegisterFile<Lane>::AccRegisterFile(const AccRegisterFile<From>& from)
    : AccRegisterFile(from.rows_, from.cols_, from.acc_bits_, from.policy_) {
  std::copy(from.regs_.begin(), from.regs_.end(), regs_.begin());
  used_ = from.used_;
  magnitudes_ = from.magnitudes_;
  exact_magnitudes_ = from.exact_magnitudes_;
}

template <class Lane>
void AccRegisterFile<Lane>::clear() {
  std::fill(regs_.begin(), regs_.end(), Lane(0));
  std::fill(used_.begin(), used_.end(), uint8_t(0));
}

template <class Lane>
int AccRegisterFile<Lane>::width_needed() const {
  // v >= 0 needs bit_length(v) + 1 bits, v < 0 needs bit_length(-v - 1) + 1.
  int bit_length = 0;
  for (unsigned __int128 v = magnitudes_ | exact_magnitudes_; v; v >>= 1) ++bit_length;
  return 1 + bit_length;
}

template <class Lane>
uint64_t AccRegisterFile<Lane>::add_tile(const Products& p) {
  const TileRows& t = *p.rows;
  // Every row with a chunk adds in the fused kernel but the fault's row
  // (local pointers: the byte stores would otherwise alias every load).
  // (Members in locals too: the loops' stores would otherwise reload them.)
  const int rows = rows_, acc_bits = acc_bits_;
  const int32_t* len = t.len.data();
  uint8_t *used = used_.data(), *fused = fused_.data();
  for (int r = 0; r < rows; ++r) used[r] = fused[r] = len[r] > 0;
  const bool fault_row = p.lsb_fault && rows > 0 && used[0];
  if (fault_row) fused[0] = 0;
  const kernels::TileOperands operands{p.x_plane, p.x_stride, t.gk0.data(), len, p.y_values, p.y_at};
  const uint64_t* mag = row_magnitudes_.data();
  kernels::mac_tile(regs_.data(), cols_, operands, fused, row_magnitudes_.data(), rows, p.active_cols);
  // A fused row that stayed in range: its raw sums are the exact ones (a
  // row off, and the fault's row, have magnitude 0). The others are redone,
  // and the fault's row; the order of the redos does not matter (each ORs
  // into the history and counts its own overflows).
  uint64_t in_range = 0, overflows = 0;
  for (int r = 0; r < rows; ++r) {
    if (!exceeds_range(mag[r], acc_bits)) {
      in_range |= mag[r];
      continue;
    }
    overflows += add_row_by_product(p, r);
  }
  if (fault_row) overflows += add_row_by_product(p, 0);
  magnitudes_ |= in_range;
  return overflows;
}

// A row's tile redone from 0 product by product (kernels::redo_row), as
// the registers add at each edge: until a sum leaves the range the
// registers are the exact sums; from the step one does, the row keeps its
// exact sums apart (for width_needed) and the registers take the overflow
// policy.
template <class Lane>
uint64_t AccRegisterFile<Lane>::add_row_by_product(const Products& p, int r) {
  Lane* acc = &regs_[size_t(r) * size_t(cols_)];
  std::fill(acc, acc + cols_, Lane(0));
  const kernels::RedoRow row{p.x_row(r, 0), p.x_stride, &p.y_values[p.y_at[size_t(r)]], p.rows->len[size_t(r)],
                             p.active_cols, p.lsb_fault && r == 0, acc_bits_, policy_};
  return kernels::redo_row(acc, exact_.data(), products_.data(), row, magnitudes_, exact_magnitudes_);
}

template <class Lane>
void AccRegisterFile<Lane>::hand_over(ChunkSums& out) {
  out.row_valid.assign(used_.begin(), used_.end());
  out.sum.resize(regs_.size());
  // The columns the group scalers read (vector_width of the active ones),
  // and those this bundle's last hand-over wrote past them: they go back
  // to the registers' 0 there. The registers past the active columns are 0
  // (no kernel writes them), so every other sum is 0 already and stays so.
  const int n = vector_width(out.active_cols, cols_);
  kernels::hand_over(out.sum.data(), regs_.data(), rows_, cols_, std::max(n, out.sum_cols));
  out.sum_cols = n;
  std::fill(used_.begin(), used_.end(), uint8_t(0));
}

template class AccRegisterFile<int32_t>;
template class AccRegisterFile<int64_t>;
template AccRegisterFile<int32_t>::AccRegisterFile(const AccRegisterFile<int64_t>&);
template AccRegisterFile<int64_t>::AccRegisterFile(const AccRegisterFile<int32_t>&);

}  // namespace mls::hw
