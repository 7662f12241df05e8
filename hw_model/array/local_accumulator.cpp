#include "hw_model/array/local_accumulator.h"

#include <algorithm>

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

LocalAccumulator::LocalAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name),
      rows_(cfg.rows),
      cols_(cfg.cols),
      acc_bits_(cfg.acc_bits),
      policy_(cfg.acc_overflow),
      stats_(stats),
      acc_(size_t(cfg.rows) * size_t(cfg.cols), 0),
      acc32_(size_t(cfg.rows) * size_t(cfg.cols), 0),
      row_used_(size_t(cfg.rows), 0),
      exact_(size_t(cfg.rows) * size_t(cfg.cols), 0),
      diverged_(size_t(cfg.rows), 0) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void LocalAccumulator::clear() {
  std::fill(acc_.begin(), acc_.end(), 0);
  std::fill(acc32_.begin(), acc32_.end(), 0);
  any_diverged_ = false;
  std::fill(row_used_.begin(), row_used_.end(), 0);
  std::fill(exact_.begin(), exact_.end(), 0);
  std::fill(diverged_.begin(), diverged_.end(), 0);
}

int LocalAccumulator::width_needed() const {
  // v >= 0 needs bit_length(v) + 1 bits, v < 0 needs bit_length(-v - 1) + 1.
  int bit_length = 0;
  for (unsigned __int128 v = magnitudes_ | exact_magnitudes_; v; v >>= 1) ++bit_length;
  return 1 + bit_length;
}

void LocalAccumulator::on_clock() {
  ChunkSums& o = out->next();
  const Products& in_p = in->read();
  o.tag.valid = false;
  if (rst.read()) {
    clear();
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
  const bool all_active = n == cols_ && active_rows == uint64_t(rows_);
  // In a local: as a member it may alias the arrays below, and the compiler
  // would load and store it on every product.
  uint64_t magnitudes = magnitudes_;
  uint64_t overflows;
  if (in_p.narrow && acc_bits_ <= Products::kNarrowAccBits) {
    use_narrow(true);
    overflows = add_products(acc32_, in_p.product32, in_p.row_active, all_active, n, magnitudes);
  } else if (in_p.narrow) {  // not produced by Multiplier: widen
    use_narrow(false);
    wide_.assign(in_p.product32.begin(), in_p.product32.end());
    overflows = add_products(acc_, wide_, in_p.row_active, all_active, n, magnitudes);
  } else {
    use_narrow(false);
    overflows = add_products(acc_, in_p.product, in_p.row_active, all_active, n, magnitudes);
  }
  magnitudes_ = magnitudes;
  stats_->acc_add += active_rows * uint64_t(n);
  stats_->acc_overflow += overflows;
  if (in_p.tag.tile_last) hand_over(o, in_p);
}

void LocalAccumulator::hand_over(ChunkSums& o, const Products& in_p) {
  o.tag = in_p.tag;
  o.active_cols = in_p.active_cols;
  o.row_valid.swap(row_used_);
  row_used_.assign(size_t(rows_), 0);
  if (narrow_) {
    o.sum.assign(acc32_.begin(), acc32_.end());
    std::fill(acc32_.begin(), acc32_.end(), 0);
  } else {
    o.sum.swap(acc_);
    acc_.assign(size_t(rows_) * size_t(cols_), 0);
  }
  std::fill(diverged_.begin(), diverged_.end(), 0);
  any_diverged_ = false;
}

void LocalAccumulator::use_narrow(bool narrow) {
  // The registers' values move between the two widths (exactly: a 31-bit
  // register's value fits either); only a change of job changes the width.
  if (narrow == narrow_) return;
  if (narrow)
    std::copy(acc_.begin(), acc_.end(), acc32_.begin());
  else
    std::copy(acc32_.begin(), acc32_.end(), acc_.begin());
  narrow_ = narrow;
}

template <class T>
uint64_t LocalAccumulator::add_products(std::vector<T>& acc_regs, const std::vector<T>& products,
                                        const std::vector<uint8_t>& row_active, bool all_active, int n,
                                        uint64_t& magnitudes) {
  if (!any_diverged_ && all_active) {
    // Every PE adds and every accumulator still equals its exact sum: the
    // whole array in one loop; rows whose raw sums left the range (rare) are
    // then set apart as the row walk below does.
    if (kernels::add_rows(acc_regs.data(), products.data(), rows_ * cols_, acc_bits_, magnitudes) == 0) return 0;
    return diverge_rows(acc_regs);
  }
  uint64_t overflows = 0;
  for (int r = 0; r < rows_; ++r) {
    if (!row_active[size_t(r)]) continue;
    const size_t base = size_t(r) * size_t(cols_);
    T* acc = &acc_regs[base];
    const T* prod = &products[base];
    __int128* exact = &exact_[base];
    if (!diverged_[size_t(r)]) {
      // The row's accumulators still equal their exact sums: add, and only
      // when a raw sum left the range keep the exact sums apart from now on.
      if (kernels::add_rows(acc, prod, n, acc_bits_, magnitudes) == 0) continue;
      std::copy(acc, acc + cols_, exact);  // the raw sums: exact
      diverged_[size_t(r)] = 1;
      any_diverged_ = true;
    } else {
      add_row_exact(exact, prod, n, exact_magnitudes_);  // rare (a diverged row): no clones
      uint64_t raw_magnitudes = 0;  // of the saturated or wrapped sums: not wanted
      if (kernels::add_rows(acc, prod, n, acc_bits_, raw_magnitudes) == 0) continue;
    }
    overflows += saturate_or_wrap_row(acc, n, acc_bits_, policy_);
  }
  return overflows;
}

template <class T>
uint64_t LocalAccumulator::diverge_rows(std::vector<T>& acc_regs) {
  // The raw sums were exact (no row had diverged): a row with one out of the
  // range keeps them as its exact sums and takes the overflow policy.
  uint64_t overflows = 0;
  const uint64_t half = uint64_t{1} << (acc_bits_ - 1);
  for (int r = 0; r < rows_; ++r) {
    T* acc = &acc_regs[size_t(r) * size_t(cols_)];
    uint64_t out_of_range = 0;
    for (int c = 0; c < cols_; ++c) out_of_range |= (uint64_t(int64_t(acc[c])) + half) >> acc_bits_;
    if (!out_of_range) continue;
    std::copy(acc, acc + cols_, &exact_[size_t(r) * size_t(cols_)]);
    diverged_[size_t(r)] = 1;
    any_diverged_ = true;
    overflows += saturate_or_wrap_row(acc, cols_, acc_bits_, policy_);
  }
  return overflows;
}

}  // namespace mls::hw
