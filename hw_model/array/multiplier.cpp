#include "hw_model/array/multiplier.h"

#include <algorithm>

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
  o.row_active.assign(in.row_active.begin(), in.row_active.end());
  o.active_cols = n;
  o.narrow = narrow_;
  o.lsb_fault = fault_ == Fault::mul_lsb && in.row_active[0];  // PE (0,0) bit 0 stuck at 1
  o.x_rows.resize(size_t(rows_));
  o.y.resize(size_t(rows_));
  // Plain pointers: through the vectors the compiler would reload each
  // vector's data pointer after every store (they might alias).
  const uint8_t* active = in.row_active.data();
  const int64_t* row_gk = in.row_gk.data();
  const uint32_t* y_codes = in.y.data();
  const int32_t* value_y = value_y_.data();
  const int32_t* x_plane = x_values_.data() + in.first_m;
  const uint32_t* zeros_of = &x_zeros_[size_t(in.tag.m_tile * gk_)];  // this m-tile's, by X buffer row
  const int32_t** x_rows = o.x_rows.data();
  int32_t* y_out = o.y.data();
  const int64_t stride = in.x_stride;
  uint64_t active_rows = 0, zeros = 0;
  for (int r = 0; r < rows_; ++r) {
    if (!active[r]) continue;
    const int64_t row = row_gk[r];
    const int32_t y = value_y[y_codes[r]];
    x_rows[r] = x_plane + row * stride;
    y_out[r] = y;
    ++active_rows;
    // All n products are 0 when Y's value is, else X's zeros: in arithmetic,
    // as Y is 0 as the data has it (ReLU, padding) and a branch mispredicts.
    const uint64_t x_zeros = zeros_of[row];
    zeros += x_zeros + uint64_t(y == 0) * (uint64_t(n) - x_zeros);
  }
  stats_->mul += active_rows * uint64_t(n);
  stats_->mul_zero += zeros;
}

}  // namespace mls::hw
