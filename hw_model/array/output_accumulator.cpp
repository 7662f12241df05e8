#include "hw_model/array/output_accumulator.h"

#include <algorithm>

namespace mls::hw {

OutputAccumulator::OutputAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name), cols_(cfg.cols), stats_(stats), acc_(size_t(cfg.cols), 0.0f) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void OutputAccumulator::load(const LayerJob& job) {
  per_p_ = job.mapping.partial_sums_per_p();
  acc_.assign(per_p_ ? size_t(job.p) * size_t(cols_) : size_t(cols_), 0.0f);
}

void OutputAccumulator::on_clock() {
  if (!clk.posedge()) return;  // woken between edges (ClockGate): run from the next one
  ColumnValues& o = out->next();
  const ColumnValues& t = in->read();
  o.tag.valid = false;
  if (rst.read()) {
    std::fill(acc_.begin(), acc_.end(), 0.0f);
    return;
  }
  if (!t.tag.valid) {
    gate_.sleep();
    return;
  }
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
