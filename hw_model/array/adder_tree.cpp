#include "hw_model/array/adder_tree.h"

#include <algorithm>

namespace mls::hw {

AdderTree::AdderTree(const ArrayConfig& cfg, Stats* stats)
    : rows_(cfg.rows), cols_(cfg.cols), fault_(cfg.fault), stats_(stats) {
  const int levels = cfg.tree_levels(), stages = cfg.effective_tree_stages();
  for (int s = 0; s < stages; ++s) levels_per_stage_.push_back((s + 1) * levels / stages - s * levels / stages);
  regs_.resize(size_t(stages - 1));
}

namespace {

// dst[c] = a[c] + b[c] for c < n, all columns of a level's slot pair in
// vector fp32 adds (each column's own IEEE add: the tree's order per column
// is the slots'). dst may be a itself (a level is reduced in place): each
// element is read before it is written and no other element depends on it,
// so there is no dependence between iterations (ivdep) and the loop
// vectorises without a runtime overlap check that would fail.
inline void add_columns(float* dst, const float* a, const float* b, int n) {
#pragma GCC ivdep
  for (int c = 0; c < n; ++c) dst[c] = a[c] + b[c];
}

inline void copy_columns(float* dst, const float* a, int n) {
#pragma GCC ivdep
  for (int c = 0; c < n; ++c) dst[c] = a[c];
}

}  // namespace

// One level of every column's tree, from `src` (slots of `cols_` values,
// the input's or the stage's own) into the stage: slot i of the result is
// slot 2i + slot 2i+1 of the source (or the valid one of them), an odd last
// slot moves up. Slot i is written only after slots 2i and 2i+1 were read
// (2i >= i), so src may be the stage's own values.
void AdderTree::reduce_level(const float* src, const uint8_t* src_valid, Stage& s) const {
  const int n = s.slots, half = n / 2;
  // The tree_order fault: a mis-wired first level, slots 1 and 2 trade
  // places, so (a0+a2) + (a1+a3).
  const bool swapped = fault_ == Fault::tree_order && n == rows_ && n >= 4;
  const int width = vector_width(s.active_cols, cols_);  // whole vectors; the columns past active_cols are not read
  const auto at = [swapped](int j) { return swapped && (j == 1 || j == 2) ? 3 - j : j; };
  for (int i = 0; i < half; ++i) {
    const int ja = at(2 * i), jb = at(2 * i + 1);
    const bool va = src_valid[ja], vb = src_valid[jb];
    float* dst = &s.value[size_t(i) * size_t(cols_)];
    const float* pa = src + size_t(ja) * size_t(cols_);
    const float* pb = src + size_t(jb) * size_t(cols_);
    if (va && vb) {
      add_columns(dst, pa, pb, width);
      adds_ += uint64_t(s.active_cols);
    } else if (va || vb) {
      copy_columns(dst, va ? pa : pb, width);
    }
    s.slot_valid[size_t(i)] = va || vb;
  }
  if (n % 2) {
    copy_columns(&s.value[size_t(half) * size_t(cols_)], src + size_t(n - 1) * size_t(cols_), width);
    s.slot_valid[size_t(half)] = src_valid[n - 1];
  }
  s.slots = (n + 1) / 2;
}

uint64_t AdderTree::reduce_levels(Stage& s, int levels) const {
  adds_ = 0;
  if (s.tag.valid)
    for (int l = 0; l < levels; ++l) reduce_level(s.value.data(), s.slot_valid.data(), s);
  return adds_;
}

// The input into a stage register, with the stage's first level reduced on
// the way (from the input's values: no copy of the R x C values first);
// returns the additions of that level.
uint64_t AdderTree::load_input(Stage& dst, const ScaledSums& in_s, bool rst, int levels) const {
  adds_ = 0;
  dst.tag = rst ? Tag{} : in_s.tag;
  if (!dst.tag.valid) return 0;
  dst.active_cols = in_s.active_cols;
  dst.slots = rows_;
  dst.value.resize(size_t(rows_) * size_t(cols_));
  dst.slot_valid.resize(size_t(rows_));
  if (levels == 0) {  // a stage with no level of its own (a one-row tree): the input as it is
    dst.slot_valid = in_s.row_valid;
    dst.value = in_s.value;
    return 0;
  }
  reduce_level(in_s.value.data(), in_s.row_valid.data(), dst);
  const uint64_t first = adds_;
  return first + reduce_levels(dst, levels - 1);
}

void AdderTree::edge(const ScaledSums& in_s, ColumnValues& o, bool rst) {
  if (!busy_ && !in_s.tag.valid && !rst) {
    o.tag.valid = false;  // nothing in flight: every stage would pass invalid values on
    return;
  }
  const int n_stages = stages();
  // The stage feeding the output register: the last internal one, or the input.
  uint64_t adds = n_stages == 1 ? load_input(head_, in_s, rst, levels_per_stage_.back()) : 0;
  Stage& last_in = n_stages > 1 ? regs_.back() : head_;
  if (n_stages > 1) adds += reduce_levels(last_in, levels_per_stage_.back());
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
  if (n_stages > 1) adds += load_input(regs_[0], in_s, rst, levels_per_stage_[0]);
  busy_ = o.tag.valid;
  for (const Stage& reg : regs_) busy_ = busy_ || reg.tag.valid;
  if (!rst) stats_->tree_add += adds;
}

}  // namespace mls::hw
