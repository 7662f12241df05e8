#include "hw_model/array/group_scaler.h"

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

GroupScaler::GroupScaler(const ArrayConfig& cfg, Stats* stats)
    : rows_(cfg.rows), cols_(cfg.cols), fault_(cfg.fault), stats_(stats) {}

void GroupScaler::load(const LayerJob& job) {
  job_ = &job;
  form_ = scaler_form(job.x_scale, job.y_scale);
  // X's register file decoded for the common double form: [g][m], so the
  // columns of a row read neighbours.
  const int x_m = job.x_scale.m;
  x_exp_.resize(size_t(job.g) * size_t(job.m));
  x_mantissa_.resize(x_exp_.size());
  for (int64_t m = 0; m < job.m; ++m)
    for (int64_t g = 0; g < job.g; ++g) {
      const GroupScale sx = x_register(job.x_scales[size_t(m * job.g + g)]);
      x_exp_[size_t(g * job.m + m)] = int32_t(sx.exp) - x_m;
      x_mantissa_[size_t(g * job.m + m)] = int32_t(scale_mantissa(form_, sx, x_m));
    }
}

void GroupScaler::edge(const ChunkSums& s, ScaledSums& o, bool rst) {
  o.tag = s.tag;
  if (rst || !s.tag.valid) {
    o.tag.valid = false;
    return;
  }
  const LayerJob& j = *job_;
  o.row_valid = s.row_valid;
  o.active_cols = s.active_cols;
  o.value.resize(size_t(rows_) * size_t(cols_));
  const ScalerForm form = form_;
  const int x_m = j.x_scale.m, y_m = j.y_scale.m, cols = s.active_cols;
  const int64_t groups = j.g, m0 = s.tag.m_tile * cols_;
  const GroupScale* y_scales = j.y.scales(s.tag.p);
  uint64_t scaled = 0;
  for (int r = 0; r < rows_; ++r) {
    if (!s.row_valid[size_t(r)]) continue;
    const int64_t g = j.plan.group_of(s.tag.tile * rows_ + r);
    const GroupScale sy = y_scales[g];
    const int64_t* sum = &s.sum[size_t(r) * size_t(cols_)];
    float* value = &o.value[size_t(r) * size_t(cols_)];
    const size_t x0 = size_t(g * j.m + m0);
    scaled += uint64_t(cols);
    if (kernels::scale_row(value, sum, &x_exp_[x0], &x_mantissa_[x0], int32_t(sy.exp) - y_m,
                            int32_t(scale_mantissa(form, sy, y_m)), cols))
      continue;
    // Some sum or exponent is beyond the double form: the integer scalers.
    for (int c = 0; c < cols; ++c)
      value[c] = group_scale(form, sum[c], x_register(j.x_scales[size_t((m0 + c) * groups + g)]), sy, x_m, y_m);
  }
  stats_->scale += scaled;
  if (form == ScalerForm::multiplier) stats_->scale_mul += scaled;
}

}  // namespace mls::hw
