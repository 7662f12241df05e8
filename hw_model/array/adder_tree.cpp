#include "hw_model/array/adder_tree.h"

#include <algorithm>

namespace mls::hw {

AdderTree::AdderTree(const ArrayConfig& cfg, Stats* stats)
    : rows_(cfg.rows), cols_(cfg.cols), fault_(cfg.fault), stats_(stats) {
  const int levels = cfg.tree_levels(), stages = cfg.effective_tree_stages();
  for (int s = 0; s < stages; ++s) levels_per_stage_.push_back((s + 1) * levels / stages - s * levels / stages);
  regs_.resize(size_t(stages - 1));
}

void AdderTree::reduce_level(Stage& s) const {
  const int n = s.slots, half = n / 2;
  if (fault_ == Fault::tree_order && n == rows_ && n >= 4) {
    // A mis-wired first level: slots 1 and 2 trade places, so (a0+a2) + (a1+a3).
    std::swap(s.slot_valid[1], s.slot_valid[2]);
    std::swap_ranges(&s.value[size_t(cols_)], &s.value[size_t(2 * cols_)], &s.value[size_t(2 * cols_)]);
  }
  for (int i = 0; i < half; ++i) {
    const bool va = s.slot_valid[size_t(2 * i)], vb = s.slot_valid[size_t(2 * i + 1)];
    float* dst = &s.value[size_t(i) * size_t(cols_)];
    const float* pa = &s.value[size_t(2 * i) * size_t(cols_)];
    const float* pb = pa + cols_;
    if (va && vb) {
      for (int c = 0; c < s.active_cols; ++c) dst[c] = pa[c] + pb[c];
      adds_ += uint64_t(s.active_cols);
    } else if (va || vb) {
      const float* src = va ? pa : pb;
      for (int c = 0; c < s.active_cols; ++c) dst[c] = src[c];
    }
    s.slot_valid[size_t(i)] = va || vb;
  }
  if (n % 2) {
    const float* src = &s.value[size_t(n - 1) * size_t(cols_)];
    std::copy(src, src + s.active_cols, &s.value[size_t(half) * size_t(cols_)]);
    s.slot_valid[size_t(half)] = s.slot_valid[size_t(n - 1)];
  }
  s.slots = (n + 1) / 2;
}

uint64_t AdderTree::reduce_levels(Stage& s, int levels) const {
  adds_ = 0;
  if (s.tag.valid)
    for (int l = 0; l < levels; ++l) reduce_level(s);
  return adds_;
}

void AdderTree::load_input(Stage& dst, const ScaledSums& in_s, bool rst) const {
  dst.tag = rst ? Tag{} : in_s.tag;
  if (!dst.tag.valid) return;
  dst.active_cols = in_s.active_cols;
  dst.slots = rows_;
  dst.slot_valid = in_s.row_valid;
  dst.value = in_s.value;
}

void AdderTree::edge(const ScaledSums& in_s, ColumnValues& o, bool rst) {
  if (!busy_ && !in_s.tag.valid && !rst) {
    o.tag.valid = false;  // nothing in flight: every stage would pass invalid values on
    return;
  }
  const int n_stages = stages();
  // The stage feeding the output register: the last internal one, or the input.
  if (n_stages == 1) load_input(head_, in_s, rst);
  Stage& last_in = n_stages > 1 ? regs_.back() : head_;
  uint64_t adds = reduce_levels(last_in, levels_per_stage_.back());
  o.tag = rst ? Tag{} : last_in.tag;
  o.active_cols = last_in.active_cols;
  o.value.resize(size_t(cols_));
  if (o.tag.valid) std::copy(last_in.value.begin(), last_in.value.begin() + last_in.active_cols, o.value.begin());
  // Move the internal registers up one stage (the last one was just consumed).
  for (int s = n_stages - 2; s >= 1; --s) {
    std::swap(regs_[size_t(s)], regs_[size_t(s - 1)]);
    if (rst) regs_[size_t(s)].tag.valid = false;
    adds += reduce_levels(regs_[size_t(s)], levels_per_stage_[size_t(s)]);
  }
  if (n_stages > 1) {
    load_input(regs_[0], in_s, rst);
    adds += reduce_levels(regs_[0], levels_per_stage_[0]);
  }
  busy_ = o.tag.valid;
  for (const Stage& reg : regs_) busy_ = busy_ || reg.tag.valid;
  if (!rst) stats_->tree_add += adds;
}

}  // namespace mls::hw
