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
  o.rows = c.rows;
  o.step = c.step;
  o.active_cols = c.active_cols;
  // The X buffer is [g][k][m]: the C columns of an m-tile read neighbours.
  o.first_m = j.mapping.m_of(c.tag.m_tile, 0);
  o.x_codes = j.x_codes.data();
  o.x_stride = j.m;
  o.y_rows = &j.y;
  // A tile's steps issue on consecutive edges once its first has (the
  // controller stalls only before a tile): its reads are counted whole at
  // its first step.
  if (c.step0()) count_reads(c);
  if (c.tag.tile_last) {
    held_x_m_ = c.tag.m_tile, held_x_tile_ = c.tag.tile;
    held_y_p_ = c.tag.p, held_y_tile_ = c.tag.tile;
  }
}

uint32_t Operands::y(int r) const { return y_rows->codes(tag.p)[row_gk(r)]; }

void OperandBuffer::count_reads(const IssueCmd& c) {
  const uint64_t rows_read = c.rows->row_steps;
  const bool x_held = holds_x_ && c.tag.m_tile == held_x_m_ && c.tag.tile == held_x_tile_;
  const bool y_held = holds_y_ && c.tag.p == held_y_p_ && c.tag.tile == held_y_tile_;
  const uint64_t x_reads = x_held ? 0 : rows_read * uint64_t(c.active_cols), y_reads = y_held ? 0 : rows_read;
  stats_->read_x += x_reads;
  stats_->read_y += y_reads;
  if (traffic_) {
    traffic_->x_buffer_read += x_reads;
    traffic_->y_buffer_read += y_reads;
    // A chunk's group scales are read with its first element.
    const uint64_t first_rows = c.rows->active_at[0];
    if (!x_held) traffic_->x_scale_buffer_read += first_rows * uint64_t(c.active_cols);
    if (!y_held) traffic_->y_scale_buffer_read += first_rows;
  }
}

}  // namespace mls::hw
