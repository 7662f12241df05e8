#include "hw_model/array/multiplier.h"

#include <algorithm>

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

namespace {

int64_t largest_magnitude(const std::vector<int32_t>& table) {
  int64_t m = 0;
  for (int32_t v : table) m = std::max(m, v < 0 ? -int64_t(v) : int64_t(v));
  return m;
}

}  // namespace

Multiplier::Multiplier(const MlsConfig& cfg, Stats* stats)
    : rows_(cfg.array.rows), cols_(cfg.array.cols), fault_(cfg.array.fault), stats_(stats) {
  set_formats(cfg.quant.weight.elem, cfg.quant.input.elem);  // forward's X and Y until a job says otherwise
}

void Multiplier::set_formats(const ElemFormat& x, const ElemFormat& y) {
  for (auto [fmt, table] : {std::pair{&x, &value_x_}, std::pair{&y, &value_y_}}) {
    table->resize(size_t{1} << fmt->bits());
    for (uint32_t code = 0; code < table->size(); ++code)
      (*table)[code] = int32_t(operand_value(decode_operand(*fmt, code)));  // below 2^27 (M <= 12, E <= 4)
  }
  y_code_ = kernels::CodeFormat{y.e, y.m};
  // Both below 2^27, so their product is exact in int64.
  narrow_ = largest_magnitude(value_x_) * largest_magnitude(value_y_) < Products::kNarrowBound;
}

void Multiplier::load(const LayerJob& job) {
  set_formats(job.x_elem, job.y_elem);
  decode_x(job);
}

void Multiplier::decode_x(const LayerJob& job) {
  const int64_t gk = job.g * job.k, m = job.m;
  m_tiles_ = (m + cols_ - 1) / cols_;
  gk_ = gk;
  x_values_.resize(job.x_codes.size());
  x_zeros_.assign(size_t(gk * m_tiles_), 0);
  const int32_t* table = value_x_.data();
  for (int64_t row = 0; row < gk; ++row) {
    const uint32_t* codes = &job.x_codes[size_t(row * m)];
    int32_t* values = &x_values_[size_t(row * m)];
    for (int64_t i = 0; i < m; ++i) {
      values[i] = table[codes[i]];
      x_zeros_[size_t((i / cols_) * gk + row)] += values[i] == 0;
    }
  }
}

void Multiplier::edge(const Operands& in, Products& o, bool rst) {
  o.tag = in.tag;
  if (rst || !in.tag.valid) {
    o.tag.valid = false;
    return;
  }
  const int n = in.active_cols;
  // A tile's steps issue on consecutive edges once its first has (the
  // controller stalls only before a tile), so its products are counted
  // whole at its first step.
  if (in.step == 0) decode_tile(in), stats_->mul += in.rows->row_steps * uint64_t(n);
  o.rows = in.rows;
  o.step = in.step;
  o.active_cols = n;
  o.narrow = narrow_;
  o.lsb_fault = fault_ == Fault::mul_lsb;  // PE (0,0) bit 0 stuck at 1
  o.x_plane = x_values_.data() + in.first_m;
  o.x_stride = in.x_stride;
  o.y_values = y_tile_[tile_slot_].data();
  o.y_at = in.rows->y_at.data();
}

// A tile's broadcast Y codes decoded at its first step, into the slot the
// previous tile's did not use (the local accumulators read that one until
// the previous tile's last step has passed them), and the tile's zero
// products counted (kernels::decode_span: in arithmetic, as Y is 0 as the
// data has it, ReLU and padding, and a branch would mispredict). Rows
// whose chunks follow each other in the Y row are decoded as one run and
// share it (TileRows::y_runs, planned once per job), so a tile is usually
// one kernel call; a tile's chunks never overlap, so no code is decoded or
// counted twice.
void Multiplier::decode_tile(const Operands& in) {
  tile_slot_ ^= 1;
  const TileRows& rows = *in.rows;
  std::vector<int32_t>& slot = y_tile_[tile_slot_];
  if (slot.size() < size_t(rows.y_len)) slot.resize(size_t(rows.y_len));
  const uint32_t* zeros_of = &x_zeros_[size_t(in.tag.m_tile * gk_)];  // this m-tile's, by X buffer row
  const uint32_t* y_row = in.y_rows->codes(in.tag.p);  // stays in its slot for this loop
  const uint32_t n = uint32_t(in.active_cols);
  int32_t* values = slot.data();
  uint64_t zeros = 0;
  for (const TileRows::YRun& run : rows.y_runs)
    zeros += kernels::decode_span(values + run.at, y_row + run.gk, zeros_of + run.gk, run.len, n, y_code_);
  stats_->mul_zero += zeros;
}

}  // namespace mls::hw
