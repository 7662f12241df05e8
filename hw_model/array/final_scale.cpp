#include "hw_model/array/final_scale.h"

#include "hw_model/datapath/datapath.h"

namespace mls::hw {

FinalScale::FinalScale(const ArrayConfig& cfg, Stats* stats, OutputBuffer* out_buffer)
    : cols_(cfg.cols), out_bytes_(cfg.out_bytes()), stats_(stats), out_buffer_(out_buffer) {}

void FinalScale::load(const LayerJob& job) {
  job_ = &job;
  factor_ = exact_product_to_fp32(job.s_t_x, job.s_t_y, job.x_elem.unit_exp() + job.y_elem.unit_exp());
  written_ = 0;
  expected_ = uint64_t(job.m) * uint64_t(job.p);
}

void FinalScale::edge(const ColumnValues& v, bool rst) {
  if (rst || !v.tag.valid) return;
  const LayerJob& j = *job_;
  for (int c = 0; c < v.active_cols; ++c) {
    const int64_t m = v.tag.m_tile * cols_ + c;
    j.out[j.out_at(m * j.p + v.tag.p)] = v.value[size_t(c)] * factor_;
  }
  stats_->final_mul += uint64_t(v.active_cols);
  stats_->write_out += uint64_t(v.active_cols);
  written_ += uint64_t(v.active_cols);
  if (out_buffer_) out_buffer_->written(uint64_t(v.active_cols), uint64_t(v.active_cols) * uint64_t(out_bytes_));
  last_write_ = sc_core::sc_time_stamp();
  if (done()) sc_core::sc_pause();
}

}  // namespace mls::hw
