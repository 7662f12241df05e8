#include "hw_model/memory/operand_buffer.h"

#include <algorithm>

namespace mls::hw {

OperandBuffer::OperandBuffer(const ArrayConfig& cfg, Stats* stats, Traffic* traffic)
    : rows_(cfg.rows), cols_(cfg.cols), stats_(stats), traffic_(traffic) {}

void OperandBuffer::load(const LayerJob& job) {
  check_job_fits(job, rows_, cols_);
  job_ = &job;
  holds_x_ = job.mapping.holds_x();
  holds_y_ = job.mapping.holds_y();
  held_x_m_ = held_x_tile_ = held_y_p_ = held_y_tile_ = -1;
}

void OperandBuffer::edge(const IssueCmd& c, Operands& o, bool rst) {
  o.tag = c.tag;
  if (rst || !c.tag.valid) {
    o.tag.valid = false;
    return;
  }
  const LayerJob& j = *job_;
  o.active_cols = c.active_cols;
  o.row_active.assign(c.row_active.begin(), c.row_active.end());
  o.row_gk.resize(size_t(rows_));
  o.y.resize(size_t(rows_));
  // The X buffer is [g][k][m]: the C columns of an m-tile read neighbours.
  o.first_m = j.mapping.m_of(c.tag.m_tile, 0);
  o.x_codes = j.x_codes.data();
  o.x_stride = j.m;
  const uint32_t* y_row = j.y.codes(c.tag.p);
  // Plain pointers: through the vectors the compiler would reload each
  // vector's data pointer after every store (they might alias).
  const uint8_t* active = c.row_active.data();
  const int32_t* g = c.row_g.data();
  const int32_t* k = c.row_k.data();
  int64_t* row_gk = o.row_gk.data();
  uint32_t* y = o.y.data();
  const int64_t K = j.k;
  uint64_t rows_read = 0;
  for (int r = 0; r < rows_; ++r) {
    const int64_t gk = int64_t(g[r]) * K + k[r];
    row_gk[r] = gk;
    if (!active[r]) continue;
    y[r] = y_row[gk];
    ++rows_read;
  }
  count_reads(c, rows_read);
}

void OperandBuffer::count_reads(const IssueCmd& c, uint64_t rows_read) {
  const bool x_held = holds_x_ && c.tag.m_tile == held_x_m_ && c.tag.tile == held_x_tile_;
  const bool y_held = holds_y_ && c.tag.p == held_y_p_ && c.tag.tile == held_y_tile_;
  const uint64_t x_reads = x_held ? 0 : rows_read * uint64_t(c.active_cols), y_reads = y_held ? 0 : rows_read;
  stats_->read_x += x_reads;
  stats_->read_y += y_reads;
  if (traffic_) {
    traffic_->x_buffer_read += x_reads;
    traffic_->y_buffer_read += y_reads;
    if (c.step0) {
      // A chunk's group scales are read with its first element.
      if (!x_held) traffic_->x_scale_buffer_read += rows_read * uint64_t(c.active_cols);
      if (!y_held) traffic_->y_scale_buffer_read += rows_read;
    }
  }
  if (c.tag.tile_last) {
    held_x_m_ = c.tag.m_tile, held_x_tile_ = c.tag.tile;
    held_y_p_ = c.tag.p, held_y_tile_ = c.tag.tile;
  }
}

}  // namespace mls::hw
