#include "hw_model/array/adder_tree.h"

#include <algorithm>

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

AdderTree::AdderTree(const ArrayConfig& cfg, Stats* stats)
    : rows_(cfg.rows),
      cols_(cfg.cols),
      fault_(cfg.fault),
      stages_(cfg.effective_tree_stages()),
      stats_(stats),
      regs_(size_t(stages_ - 1)),
      scratch_(size_t(cfg.rows + 1) * 8),
      ops_(size_t(cfg.rows) * 2) {}

// The input into a stage register, reduced through every level; returns
// the additions (pairs added times the active columns).
uint64_t AdderTree::load_input(Stage& dst, const ScaledSums& in, bool rst) {
  dst.tag = rst ? Tag{} : in.tag;
  if (!dst.tag.valid) return 0;
  dst.active_cols = in.active_cols;
  dst.value.resize(size_t(cols_));
  // The tree_order fault: a mis-wired first level, slots 1 and 2 trade
  // places, so (a0+a2) + (a1+a3). Whole vectors of columns: the columns
  // past active_cols are computed and never read.
  const kernels::TreeTile t{in.value.data(),         cols_, in.row_valid.data(), rows_,
                            vector_width(in.active_cols, cols_), fault_ == Fault::tree_order && rows_ >= 4};
  return kernels::tree_tile(dst.value.data(), t, scratch_.data(), ops_.data()) * uint64_t(in.active_cols);
}

void AdderTree::move(const ScaledSums& in_s, ColumnValues& o, bool rst) {
  // The stage feeding the output register: the last internal one, or the input.
  const int internal = stages_ - 1;
  uint64_t adds = internal == 0 ? load_input(head_, in_s, rst) : 0;
  // The last internal register is the one before the first in the ring.
  const int last = first_ == 0 ? internal - 1 : first_ - 1;
  Stage& last_in = internal > 0 ? regs_[size_t(last)] : head_;
  if (rst || !last_in.tag.valid) {
    o.tag.valid = false;  // an invalid bundle's other fields are never read
  } else {
    o.tag = last_in.tag;
    o.active_cols = last_in.active_cols;
    if (o.value.size() != size_t(cols_)) o.value.resize(size_t(cols_));
    std::copy(last_in.value.begin(), last_in.value.begin() + last_in.active_cols, o.value.begin());
  }
  if (internal > 0) {
    // Every internal register moves up one stage; the last one, just
    // consumed, becomes the first and takes the input (most edges of a
    // tile in flight have none).
    held_ -= last_in.tag.valid;
    first_ = last;
    if (rst) {
      for (Stage& reg : regs_) reg.tag.valid = false;
      held_ = 0;
    }
    if (rst || !in_s.tag.valid) {
      last_in.tag.valid = false;
    } else {
      adds += load_input(last_in, in_s, false);
      ++held_;
    }
  }
  busy_ = o.tag.valid || held_ > 0;
  if (!rst && adds) stats_->tree_add += adds;
}

}  // namespace mls::hw
