#include "hw_model/controller.h"

#include <algorithm>

namespace mls::hw {

Controller::Controller(sc_core::sc_module_name name, const ArrayConfig& cfg)
    : sc_module(name), rows_(cfg.rows), cols_(cfg.cols) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void Controller::start(const LayerJob& job) {
  const ChunkPlan& plan = job.plan;
  const int64_t n_tiles = (plan.total + rows_ - 1) / rows_;
  tiles_.assign(size_t(n_tiles), std::vector<TileRow>(size_t(rows_)));
  tile_len_.assign(size_t(n_tiles), 0);
  for (int64_t j = 0; j < plan.total; ++j) {
    TileRow& row = tiles_[size_t(j / rows_)][size_t(j % rows_)];
    row = {true, int32_t(plan.group_of(j)), int32_t(plan.k_begin(j)), int32_t(plan.length(j))};
    tile_len_[size_t(j / rows_)] = std::max(tile_len_[size_t(j / rows_)], row.len);
  }
  m_ = job.m;
  p_count_ = job.p;
  m_tiles_ = (job.m + cols_ - 1) / cols_;
  uint64_t per_output = 0;
  for (int32_t len : tile_len_) per_output += uint64_t(len);
  total_issues_ = per_output * uint64_t(m_tiles_) * uint64_t(job.p);
  mt_ = p_ = tile_ = step_ = 0;
  issued_ = 0;
  busy_ = total_issues_ > 0;
}

void Controller::on_clock() {
  IssueCmd& c = cmd->next();
  if (rst.read() || !busy_) {
    c.tag.valid = false;
    return;
  }
  if (issued_ == 0) first_issue_ = sc_core::sc_time_stamp();
  fill(c);
  ++issued_;
  advance();
}

void Controller::fill(IssueCmd& c) const {
  const std::vector<TileRow>& rows = tiles_[size_t(tile_)];
  const bool tile_last = step_ == tile_len_[size_t(tile_)] - 1;
  c.tag = {true, tile_last, tile_last && tile_ == int64_t(tiles_.size()) - 1, mt_, p_, tile_};
  c.row_active.resize(size_t(rows_));
  c.row_g.resize(size_t(rows_));
  c.row_k.resize(size_t(rows_));
  for (int r = 0; r < rows_; ++r) {
    const TileRow& row = rows[size_t(r)];
    c.row_active[size_t(r)] = row.used && step_ < row.len;
    c.row_g[size_t(r)] = row.g;
    c.row_k[size_t(r)] = row.k0 + int32_t(step_);
  }
  c.active_cols = int(std::min<int64_t>(cols_, m_ - mt_ * cols_));
}

void Controller::advance() {
  if (++step_ < tile_len_[size_t(tile_)]) return;
  step_ = 0;
  if (++tile_ < int64_t(tiles_.size())) return;
  tile_ = 0;
  if (++p_ < p_count_) return;
  p_ = 0;
  if (++mt_ < m_tiles_) return;
  busy_ = false;
}

}  // namespace mls::hw
