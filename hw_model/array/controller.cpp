#include "hw_model/array/controller.h"

#include <algorithm>

namespace mls::hw {

Controller::Controller(const ArrayConfig& cfg, Stats* stats, TileBuffer* x_buffer, TileBuffer* y_buffer,
                       OutputBuffer* out_buffer)
    : rows_(cfg.rows),
      cols_(cfg.cols),
      out_bytes_(cfg.out_bytes()),
      stats_(stats),
      x_buffer_(x_buffer),
      y_buffer_(y_buffer),
      out_buffer_(out_buffer) {}

void Controller::start(const LayerJob& job, bool memory) {
  check_job_fits(job, rows_, cols_);
  memory_ = memory;
  mapping_ = job.mapping;
  nest_ = mapping_.loop_nest(job.m, job.p, job.plan);
  build_tiles(job);
  total_issues_ = nest_.empty() ? 0 : mapping_.issue_cycles(nest_);
  pos_ = TilePos{};
  active_cols_ = nest_.empty() ? 0 : mapping_.active_cols(nest_, pos_.m_tile);
  tile_ = tiles_.empty() ? nullptr : &tiles_[0];
  step_ = 0;
  issued_ = 0;
  started_ = false;
  busy_ = total_issues_ > 0;
}

void Controller::edge(IssueCmd& c, bool rst) {
  if (rst || !busy_) {
    c.tag.valid = false;
    return;
  }
  if (!started_) first_issue_ = sc_core::sc_time_stamp(), started_ = true;
  if (memory_ && step_ == 0 && !operands_ready()) {
    c.tag.valid = false;
    ++stats_->stall_cycles;
    return;
  }
  fill(c);
  ++issued_;
  advance();
}

// The tile tables: what each row does in each chunk tile, looked up once.
void Controller::build_tiles(const LayerJob& job) {
  tiles_.assign(size_t(nest_.chunk_tiles), TileRows{});
  for (int64_t t = 0; t < nest_.chunk_tiles; ++t) {
    TileRows& tile = tiles_[size_t(t)];
    tile.len.assign(size_t(rows_), 0);
    tile.g.assign(size_t(rows_), 0);
    tile.k0.assign(size_t(rows_), 0);
    tile.gk0.assign(size_t(rows_), 0);
    tile.steps = int32_t(mapping_.tile_steps(nest_, t));
    tile.active_at.assign(size_t(tile.steps), 0);
    for (int r = 0; r < rows_; ++r) {
      const int64_t j = mapping_.chunk_at(nest_, t, r);
      if (j < 0) continue;
      const size_t i = size_t(r);
      tile.g[i] = int32_t(job.plan.group_of(j)), tile.k0[i] = int32_t(job.plan.k_begin(j));
      tile.len[i] = int32_t(job.plan.length(j));
      tile.gk0[i] = int64_t(tile.g[i]) * job.k + tile.k0[i];
      for (int32_t s = 0; s < std::min(tile.len[i], tile.steps); ++s) ++tile.active_at[size_t(s)];
      tile.row_steps += uint64_t(std::min(tile.len[i], tile.steps));
    }
    plan_y_runs(tile);
  }
}

void Controller::fill(IssueCmd& c) const {
  const TileRows& tile = *tile_;
  const bool tile_last = step_ == tile.steps - 1;
  const bool output_last = tile_last && pos_.tile == nest_.chunk_tiles - 1;
  c.tag = {true, tile_last, output_last, pos_.m_tile, pos_.p, pos_.tile};
  c.rows = &tile;
  c.step = int32_t(step_);
  c.active_cols = active_cols_;
}

// A block's first issue: its X tile (m-tile) and Y tile (p) in their
// buffers, and room in the output buffer when the block finishes outputs.
bool Controller::operands_ready() {
  if (!x_buffer_->acquire(pos_.m_tile) || !y_buffer_->acquire(pos_.p)) return false;
  if (pos_.tile != nest_.chunk_tiles - 1) return true;
  const uint64_t bytes = uint64_t(active_cols_) * uint64_t(out_bytes_);
  return out_buffer_->reserve(bytes);
}

void Controller::advance() {
  if (++step_ < tile_->steps) return;
  step_ = 0;
  busy_ = mapping_.next_tile(pos_, nest_);
  if (busy_) active_cols_ = mapping_.active_cols(nest_, pos_.m_tile), tile_ = &tiles_[size_t(pos_.tile)];
}

}  // namespace mls::hw
