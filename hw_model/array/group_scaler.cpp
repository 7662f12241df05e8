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
  // Locals, not loads through job_ and this on every element: the stores into
  // o.value could alias them as far as the compiler knows.
  const ScalerForm form = form_;
  const bool mantissa_fault = fault_ == Fault::scaler_mantissa;
  const int x_m = j.x_scale.m, y_m = j.y_scale.m, cols = s.active_cols;
  const int64_t groups = j.g, m0 = s.tag.m_tile * cols_;
  const GroupScale* x_scales = j.x_scales.data();
  const GroupScale* y_scales = j.y.scales(s.tag.p);
  for (int r = 0; r < rows_; ++r) {
    if (!s.row_valid[size_t(r)]) continue;
    const int64_t g = j.plan.group_of(s.tag.tile * rows_ + r);
    const GroupScale sy = y_scales[g];
    const int64_t* sum = &s.sum[size_t(r) * size_t(cols_)];
    float* value = &o.value[size_t(r) * size_t(cols_)];
    for (int c = 0; c < cols; ++c) {
      GroupScale sx = x_scales[size_t((m0 + c) * groups + g)];
      // The fault: X's mantissa code reads 0 (the 1.5x shift-add path is dead,
      // or the multiplier's fraction inputs are stuck at 0).
      if (mantissa_fault) sx.man = 0;
      value[c] = group_scale(form, sum[c], sx, sy, x_m, y_m);
    }
    stats_->scale += uint64_t(cols);
    if (form == ScalerForm::multiplier) stats_->scale_mul += uint64_t(cols);
  }
}

}  // namespace mls::hw
