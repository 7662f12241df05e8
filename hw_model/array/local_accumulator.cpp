#include "hw_model/array/local_accumulator.h"

#include <algorithm>

#include "hw_model/datapath/datapath.h"

namespace mls::hw {

LocalAccumulator::LocalAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name),
      rows_(cfg.rows),
      cols_(cfg.cols),
      acc_bits_(cfg.acc_bits),
      policy_(cfg.acc_overflow),
      stats_(stats),
      acc_(size_t(cfg.rows) * size_t(cfg.cols), 0),
      row_used_(size_t(cfg.rows), 0),
      exact_(size_t(cfg.rows) * size_t(cfg.cols), 0),
      diverged_(size_t(cfg.rows), 0) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void LocalAccumulator::clear() {
  std::fill(acc_.begin(), acc_.end(), 0);
  std::fill(row_used_.begin(), row_used_.end(), 0);
  std::fill(exact_.begin(), exact_.end(), 0);
  std::fill(diverged_.begin(), diverged_.end(), 0);
}

int LocalAccumulator::width_needed() const {
  // v >= 0 needs bit_length(v) + 1 bits, v < 0 needs bit_length(-v - 1) + 1.
  int bit_length = 0;
  for (uint64_t v = magnitudes_; v; v >>= 1) ++bit_length;
  return 1 + bit_length;
}

namespace {

// add_row_unchecked and add_row_exact compiled for AVX2 too (four 64-bit lanes
// per instruction) and for the baseline; the loader picks one for the CPU.
// Integer arithmetic, so both give the same bits.
__attribute__((target_clones("avx2", "default")))
uint64_t add_unchecked(int64_t* acc, const int64_t* prod, int n, int acc_bits, uint64_t& magnitudes) {
  return add_row_unchecked(acc, prod, n, acc_bits, magnitudes);
}

__attribute__((target_clones("avx2", "default")))
void add_exact(int64_t* exact, const int64_t* prod, int n, uint64_t& magnitudes) {
  add_row_exact(exact, prod, n, magnitudes);
}

}  // namespace

void LocalAccumulator::on_clock() {
  ChunkSums& o = out->next();
  const Products& in_p = in->read();
  o.tag.valid = false;
  if (rst.read()) {
    clear();
    any_diverged_ = false;
    return;
  }
  if (!in_p.tag.valid) return;
  const int n = in_p.active_cols;
  uint64_t active_rows = 0;
  for (int r = 0; r < rows_; ++r) {
    const bool active = in_p.row_active[size_t(r)] != 0;
    row_used_[size_t(r)] |= active;
    active_rows += active;
  }
  // In a local: as a member it may alias the arrays below, and the compiler
  // would load and store it on every product.
  uint64_t magnitudes = magnitudes_;
  uint64_t overflows = 0;
  if (!any_diverged_ && n == cols_ && active_rows == uint64_t(rows_)) {
    // Every PE adds and every accumulator still equals its exact sum: the
    // whole array in one loop; rows whose raw sums left the range (rare) are
    // then set apart as add_rows does.
    if (add_unchecked(acc_.data(), in_p.product.data(), rows_ * cols_, acc_bits_, magnitudes) != 0)
      overflows = diverge_rows();
  } else {
    overflows = add_rows(in_p, magnitudes);
  }
  magnitudes_ = magnitudes;
  stats_->acc_add += active_rows * uint64_t(n);
  stats_->acc_overflow += overflows;
  if (!in_p.tag.tile_last) return;
  o.tag = in_p.tag;
  o.active_cols = in_p.active_cols;
  o.row_valid.swap(row_used_);
  o.sum.swap(acc_);
  row_used_.assign(size_t(rows_), 0);
  acc_.assign(size_t(rows_) * size_t(cols_), 0);
  std::fill(diverged_.begin(), diverged_.end(), 0);
  any_diverged_ = false;
}

uint64_t LocalAccumulator::add_rows(const Products& in_p, uint64_t& magnitudes) {
  uint64_t overflows = 0;
  const int n = in_p.active_cols;
  for (int r = 0; r < rows_; ++r) {
    if (!in_p.row_active[size_t(r)]) continue;
    const size_t base = size_t(r) * size_t(cols_);
    int64_t* acc = &acc_[base];
    const int64_t* prod = &in_p.product[base];
    int64_t* exact = &exact_[base];
    if (!diverged_[size_t(r)]) {
      // The row's accumulators still equal their exact sums: add, and only
      // when a raw sum left the range keep the exact sums apart from now on.
      if (add_unchecked(acc, prod, n, acc_bits_, magnitudes) == 0) continue;
      std::copy(acc, acc + cols_, exact);  // the raw sums: exact
      diverged_[size_t(r)] = 1;
      any_diverged_ = true;
    } else {
      add_exact(exact, prod, n, magnitudes);
      uint64_t raw_magnitudes = 0;  // of the saturated or wrapped sums: not wanted
      if (add_unchecked(acc, prod, n, acc_bits_, raw_magnitudes) == 0) continue;
    }
    overflows += saturate_or_wrap_row(acc, n, acc_bits_, policy_);
  }
  return overflows;
}

uint64_t LocalAccumulator::diverge_rows() {
  // The raw sums were exact (no row had diverged): a row with one out of the
  // range keeps them as its exact sums and takes the overflow policy.
  uint64_t overflows = 0;
  const uint64_t half = uint64_t{1} << (acc_bits_ - 1);
  for (int r = 0; r < rows_; ++r) {
    int64_t* acc = &acc_[size_t(r) * size_t(cols_)];
    uint64_t out_of_range = 0;
    for (int c = 0; c < cols_; ++c) out_of_range |= (uint64_t(acc[c]) + half) >> acc_bits_;
    if (!out_of_range) continue;
    std::copy(acc, acc + cols_, &exact_[size_t(r) * size_t(cols_)]);
    diverged_[size_t(r)] = 1;
    any_diverged_ = true;
    overflows += saturate_or_wrap_row(acc, cols_, acc_bits_, policy_);
  }
  return overflows;
}

}  // namespace mls::hw
