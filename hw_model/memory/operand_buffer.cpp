#include "hw_model/memory/operand_buffer.h"

#include <algorithm>

namespace mls::hw {

OperandBuffer::OperandBuffer(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats, Traffic* traffic)
    : sc_module(name), rows_(cfg.rows), cols_(cfg.cols), stats_(stats), traffic_(traffic) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void OperandBuffer::load(const LayerJob& job) {
  check_job_fits(job, rows_, cols_);
  job_ = &job;
  holds_x_ = job.mapping.holds_x();
  holds_y_ = job.mapping.holds_y();
  held_x_m_ = held_x_tile_ = held_y_p_ = held_y_tile_ = -1;
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
  const bool x_held = holds_x_ && c.tag.m_tile == held_x_m_ && c.tag.tile == held_x_tile_;
  const bool y_held = holds_y_ && c.tag.p == held_y_p_ && c.tag.tile == held_y_tile_;
  uint64_t rows_read = 0;
  const uint32_t* y_row = j.y.codes(c.tag.p);
  for (int r = 0; r < rows_; ++r) {
    if (!c.row_active[size_t(r)]) continue;
    const int64_t gk = int64_t(c.row_g[size_t(r)]) * j.k + c.row_k[size_t(r)];
    o.y[size_t(r)] = y_row[gk];
    const uint32_t* x_row = &j.x_codes[size_t(gk * j.m + first_m)];
    std::copy(x_row, x_row + c.active_cols, &o.x[size_t(r) * size_t(cols_)]);
    ++rows_read;
  }
  const uint64_t x_reads = x_held ? 0 : rows_read * uint64_t(c.active_cols), y_reads = y_held ? 0 : rows_read;
  stats_->read_x += x_reads;
  stats_->read_y += y_reads;
  if (traffic_) {
    traffic_->x_buffer_read += x_reads;
    traffic_->y_buffer_read += y_reads;
    if (c.step0) {
      // A chunk's group scales are read with its first element.
      uint64_t chunks = 0;
      for (int r = 0; r < rows_; ++r) chunks += c.row_active[size_t(r)];
      if (!x_held) traffic_->x_scale_buffer_read += chunks * uint64_t(c.active_cols);
      if (!y_held) traffic_->y_scale_buffer_read += chunks;
    }
  }
  if (c.tag.tile_last) {
    held_x_m_ = c.tag.m_tile, held_x_tile_ = c.tag.tile;
    held_y_p_ = c.tag.p, held_y_tile_ = c.tag.tile;
  }
}

}  // namespace mls::hw
