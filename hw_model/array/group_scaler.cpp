#include "hw_model/array/group_scaler.h"

#include <algorithm>
#include <cstring>

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

namespace {

// The exponent range of the double form (in_double_range) and, for one
// factor, the range in which mantissa (below 2^4) * 2^exp is an exact
// normal double.
constexpr int kLowestExp = -1022, kHighestExp = 960, kFactorHighest = 1019;

// mantissa * 2^exp for exp in [kLowestExp, kFactorHighest], from the power's
// bits (no libm call per row); 0 outside, where the row does not use it.
double factor(uint32_t mantissa, int32_t exp) {
  if (exp < kLowestExp || exp > kFactorHighest) return 0.0;
  const uint64_t bits = uint64_t(exp + 1023) << 52;
  double pow2;
  std::memcpy(&pow2, &bits, sizeof pow2);
  return double(mantissa) * pow2;
}

}  // namespace

GroupScaler::GroupScaler(const ArrayConfig& cfg, Stats* stats)
    : rows_(cfg.rows),
      cols_(cfg.cols),
      fault_(cfg.fault),
      checked_(cfg.acc_bits > 45),
      stats_(stats),
      on_(size_t(cfg.rows)),
      inside_(size_t(cfg.rows)),
      row_x_factor_(size_t(cfg.rows)),
      row_y_factor_(size_t(cfg.rows)) {}

void GroupScaler::load(const LayerJob& job) {
  job_ = &job;
  form_ = scaler_form(job.x_scale, job.y_scale);
  // X's register file decoded for the tile kernel: [g][m], so the columns
  // of a row read neighbours. An exponent outside the factor's exact range
  // (far beyond any scale format's) widens the group's range past the
  // double form's, so its rows take the element-by-element scalers.
  const int x_m = job.x_scale.m;
  // cols_ more at the end: a tile's rows are scaled in whole vectors
  // (vector_width), past the last m of the last group too.
  x_factor_.assign(size_t(job.g) * size_t(job.m) + size_t(cols_), 0.0);
  x_exp_lo_.assign(size_t(job.g), kHighestExp);
  x_exp_hi_.assign(size_t(job.g), kLowestExp);
  for (int64_t m = 0; m < job.m; ++m)
    for (int64_t g = 0; g < job.g; ++g) {
      const GroupScale sx = x_register(job.x_scales[size_t(m * job.g + g)]);
      const int32_t exp = int32_t(sx.exp) - x_m;
      const bool exact = exp >= kLowestExp && exp <= kFactorHighest;
      x_factor_[size_t(g * job.m + m)] = factor(scale_mantissa(form_, sx, x_m), exp);
      x_exp_lo_[size_t(g)] = std::min(x_exp_lo_[size_t(g)], exact ? exp : kLowestExp - 1);
      x_exp_hi_[size_t(g)] = std::max(x_exp_hi_[size_t(g)], exact ? exp : kHighestExp + 1);
    }
  // Per group, the Y exponents whose rows take the tile kernel: Y's factor
  // exact (in [kLowestExp, kFactorHighest]) and every exponent sum with X's
  // in the double form's range (an empty range when X's group has an
  // inexact factor). Y's mantissa factors by code, so a row needs no
  // branch on the scaler form.
  y_exp_lo_.resize(size_t(job.g)), y_exp_hi_.resize(size_t(job.g));
  for (size_t g = 0; g < size_t(job.g); ++g) {
    y_exp_lo_[g] = std::max(kLowestExp, kLowestExp - x_exp_lo_[g]);
    y_exp_hi_[g] = std::min(kFactorHighest, kHighestExp - x_exp_hi_[g]);
  }
  for (uint32_t man = 0; man < 256; ++man)
    y_mantissa_[man] = double(scale_mantissa(form_, GroupScale{0, uint8_t(man)}, job.y_scale.m));
  const int64_t whole = job.p * job.g;
  y_whole_ = whole * int64_t(sizeof(double) + 1) <= kWholeBytes;
  const size_t decoded = y_whole_ ? size_t(whole) : size_t(job.g);
  // Read only once decoded (y_decoded_, y_p_): resized, not cleared.
  y_on_.resize(decoded);
  y_factor_.resize(decoded);
  y_decoded_.assign(y_whole_ ? size_t(job.p) : 0, 0);
  y_p_ = -1;
}

// The offset of p's decoded Y row in y_on_ and y_factor_, decoding it
// first when needed: a group's rows take the kernel when Y's exponent is
// in the group's range, and Y's factor is exact there (factor(mantissa,
// y_exp): 0 when y_exp is out of range, where the rows are off).
size_t GroupScaler::y_row(int64_t p) {
  const size_t at = y_whole_ ? size_t(p) * size_t(job_->g) : 0;
  if (y_whole_ ? y_decoded_[size_t(p)] : y_p_ == p) return at;
  const LayerJob& j = *job_;
  const GroupScale* y_scales = j.y.scales(p);
  const int y_m = j.y_scale.m;
  const int32_t *exp_lo = y_exp_lo_.data(), *exp_hi = y_exp_hi_.data();
  uint8_t* __restrict on = y_on_.data() + at;
  double* __restrict y_factor = y_factor_.data() + at;
  for (int64_t g = 0; g < j.g; ++g) {
    const GroupScale sy = y_scales[g];
    const int32_t y_exp = int32_t(sy.exp) - y_m;
    on[g] = y_exp >= exp_lo[g] && y_exp <= exp_hi[g];
    y_factor[g] = y_mantissa_[sy.man] * factor(1, y_exp);
  }
  if (y_whole_) y_decoded_[size_t(p)] = 1;
  y_p_ = p;
  return at;
}

void GroupScaler::edge(const ChunkSums& s, ScaledSums& o, bool rst) {
  o.tag = s.tag;
  if (rst || !s.tag.valid) {
    o.tag.valid = false;
    return;
  }
  o.row_valid = s.row_valid;
  o.active_cols = s.active_cols;
  o.value.resize(size_t(rows_) * size_t(cols_));
  const int cols = s.active_cols;
  const uint64_t valid_rows = set_up_rows(s);
  const kernels::ScaleRows rows{on_.data(), row_x_factor_.data(), row_y_factor_.data(), checked_};
  kernels::scale_tile(o.value.data(), s.sum.data(), cols_, rows, inside_.data(), rows_, vector_width(cols, cols_));
  // Unchecked sums are inside: with every valid row on, none is left out.
  if (checked_ || !all_on_)
    for (int r = 0; r < rows_; ++r)
      if (s.row_valid[size_t(r)] && (!on_[size_t(r)] || !inside_[size_t(r)])) scale_by_element(s, o, r);
  const uint64_t scaled = valid_rows * uint64_t(cols);
  stats_->scale += scaled;
  if (form_ == ScalerForm::multiplier) stats_->scale_mul += scaled;
}

// The kernel's operands of each row of the tile: its group's X factors
// (columns m0 on), and Y's factor and range check from p's decoded row
// (y_row). The tile's rows in one kernel call where each row's exponents
// stay in the double form's range (every row of every preset); the rest,
// and rows with a sum beyond the double form, element by element. Returns
// the rows holding a chunk.
uint64_t GroupScaler::set_up_rows(const ChunkSums& s) {
  const LayerJob& j = *job_;
  const size_t y_at = y_row(s.tag.p);
  const uint8_t* y_on = y_on_.data() + y_at;
  const double* y_factor = y_factor_.data() + y_at;
  const double* x_factor = &x_factor_[size_t(s.tag.m_tile * cols_)];
  const size_t x_stride = size_t(j.m);
  // Local pointers: a store through a byte pointer may alias anything, and
  // the members would be reloaded row after row.
  const uint8_t* valid = s.row_valid.data();
  uint8_t* __restrict on = on_.data();
  const double** __restrict row_x = row_x_factor_.data();
  double* __restrict row_y = row_y_factor_.data();
  // Row r holds chunk tile * R + r, of group (tile * R + r) / per_group:
  // the groups counted on from the first row's (one division per tile).
  const int rows = rows_;
  const int64_t first_chunk = s.tag.tile * rows, per_group = j.plan.per_group;
  uint8_t all_on = 1;
  uint64_t valid_rows = 0;
  if (per_group == 1 && first_chunk + rows <= j.g) {
    // One chunk per group, every row's group in range: row r's is
    // first_chunk + r, with no test (the usual tile of a forward conv).
    const double* x_row = x_factor + size_t(first_chunk) * x_stride;
    y_on += first_chunk, y_factor += first_chunk;
    for (int r = 0; r < rows; ++r, x_row += x_stride) {
      const uint8_t v = valid[r] != 0, row_on = v & y_on[r];
      on[r] = row_on;
      all_on &= row_on | (v ^ 1);
      valid_rows += v;
      row_x[r] = x_row;
      row_y[r] = y_factor[r];
    }
    all_on_ = all_on;
    return valid_rows;
  }
  int64_t row_group = j.plan.group_of(first_chunk), chunk_in_group = first_chunk % per_group;
  for (int r = 0; r < rows; ++r) {
    const size_t g = size_t(row_group);
    if (++chunk_in_group == per_group) chunk_in_group = 0, ++row_group;
    on[r] = 0;
    if (!valid[r]) continue;
    ++valid_rows;
    const uint8_t row_on = y_on[g];
    all_on &= row_on;
    on[r] = row_on;
    row_x[r] = x_factor + g * x_stride;
    row_y[r] = y_factor[g];
  }
  all_on_ = all_on;
  return valid_rows;
}

// A row beyond the double form: the integer scalers, element by element.
void GroupScaler::scale_by_element(const ChunkSums& s, ScaledSums& o, int r) const {
  const LayerJob& j = *job_;
  const int64_t g = j.plan.group_of(s.tag.tile * rows_ + r), m0 = s.tag.m_tile * cols_;
  const GroupScale sy = j.y.scales(s.tag.p)[g];
  const int64_t* sum = &s.sum[size_t(r) * size_t(cols_)];
  float* value = &o.value[size_t(r) * size_t(cols_)];
  for (int c = 0; c < s.active_cols; ++c)
    value[c] = group_scale(form_, sum[c], x_register(j.x_scales[size_t((m0 + c) * j.g + g)]), sy, j.x_scale.m,
                           j.y_scale.m);
}

}  // namespace mls::hw
