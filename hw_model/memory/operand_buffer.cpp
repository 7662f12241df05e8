#include "hw_model/memory/operand_buffer.h"

#include <algorithm>

namespace mls::hw {

OperandBuffer::OperandBuffer(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name), rows_(cfg.rows), cols_(cfg.cols), stats_(stats) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void OperandBuffer::load(const LayerJob& job) {
  check_job_fits(job, rows_, cols_);
  job_ = &job;
}

void OperandBuffer::on_clock() {
  Operands& o = out->next();
  const IssueCmd& c = in->read();
  o.tag = c.tag;
  if (rst.read() || !c.tag.valid) {
    o.tag.valid = false;
    return;
  }
  o.row_active = c.row_active;
  o.active_cols = c.active_cols;
  o.x.resize(size_t(rows_) * size_t(cols_));
  o.y.resize(size_t(rows_));
  const LayerJob& j = *job_;
  // The X buffer is [g][k][m]: the C columns of an m-tile read neighbours.
  const int64_t first_m = j.mapping.m_of(c.tag.m_tile, 0);
  for (int r = 0; r < rows_; ++r) {
    if (!c.row_active[size_t(r)]) continue;
    const int64_t gk = int64_t(c.row_g[size_t(r)]) * j.k + c.row_k[size_t(r)];
    o.y[size_t(r)] = j.y_codes[size_t(c.tag.p * j.g * j.k + gk)];
    const uint32_t* x_row = &j.x_codes[size_t(gk * j.m + first_m)];
    std::copy(x_row, x_row + c.active_cols, &o.x[size_t(r) * size_t(cols_)]);
    stats_->read_y += 1;
    stats_->read_x += uint64_t(c.active_cols);
  }
}

}  // namespace mls::hw
