#include "hw_model/array/group_scaler.h"

#include "hw_model/datapath/datapath.h"

namespace mls::hw {

GroupScaler::GroupScaler(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name), rows_(cfg.rows), cols_(cfg.cols), fault_(cfg.fault), stats_(stats) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void GroupScaler::load(const LayerJob& job) {
  job_ = &job;
  form_ = scaler_form(job.x_scale, job.y_scale);
}

void GroupScaler::on_clock() {
  ScaledSums& o = out->next();
  const ChunkSums& s = in->read();
  o.tag = s.tag;
  if (rst.read() || !s.tag.valid) {
    o.tag.valid = false;
    return;
  }
  const LayerJob& j = *job_;
  o.row_valid = s.row_valid;
  o.active_cols = s.active_cols;
  o.value.resize(size_t(rows_) * size_t(cols_));
  for (int r = 0; r < rows_; ++r) {
    if (!s.row_valid[size_t(r)]) continue;
    const int64_t g = j.plan.group_of(s.tag.tile * rows_ + r);
    const GroupScale sy = j.y_scales[size_t(s.tag.p * j.g + g)];
    for (int c = 0; c < s.active_cols; ++c) {
      const int64_t m = s.tag.m_tile * cols_ + c;
      const size_t i = size_t(r) * size_t(cols_) + size_t(c);
      GroupScale sx = j.x_scales[size_t(m * j.g + g)];
      // The fault: X's mantissa code reads 0 (the 1.5x shift-add path is dead,
      // or the multiplier's fraction inputs are stuck at 0).
      if (fault_ == Fault::scaler_mantissa) sx.man = 0;
      o.value[i] = group_scale(form_, s.sum[i], sx, sy, j.x_scale.m, j.y_scale.m);
    }
    stats_->scale += uint64_t(s.active_cols);
    if (form_ == ScalerForm::multiplier) stats_->scale_mul += uint64_t(s.active_cols);
  }
}

}  // namespace mls::hw
