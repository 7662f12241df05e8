#include "hw_model/array/output_accumulator.h"

#include <algorithm>

namespace mls::hw {

OutputAccumulator::OutputAccumulator(const ArrayConfig& cfg, Stats* stats)
    : cols_(cfg.cols), stats_(stats), acc_(size_t(cfg.cols), 0.0f) {}

void OutputAccumulator::load(const LayerJob& job) {
  per_p_ = job.mapping.partial_sums_per_p();
  acc_.assign(per_p_ ? size_t(job.p) * size_t(cols_) : size_t(cols_), 0.0f);
}

void OutputAccumulator::edge(const ColumnValues& t, ColumnValues& o, bool rst) {
  o.tag.valid = false;
  if (rst) {
    std::fill(acc_.begin(), acc_.end(), 0.0f);
    return;
  }
  if (!t.tag.valid) return;
  float* acc = &acc_[per_p_ ? size_t(t.tag.p) * size_t(cols_) : 0];
  for (int c = 0; c < t.active_cols; ++c) acc[c] = acc[c] + t.value[size_t(c)];
  stats_->out_acc += uint64_t(t.active_cols);
  if (!t.tag.output_last) return;
  o.tag = t.tag;
  o.active_cols = t.active_cols;
  o.value.assign(acc, acc + cols_);
  std::fill(acc, acc + cols_, 0.0f);
}

}  // namespace mls::hw
