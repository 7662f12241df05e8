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

void LocalAccumulator::on_clock() {
  ChunkSums& o = out->next();
  const Products& in_p = in->read();
  o.tag.valid = false;
  if (rst.read()) {
    clear();
    return;
  }
  if (!in_p.tag.valid) return;
  uint64_t adds = 0, overflows = 0;
  // In a local: as a member it may alias the arrays below, and the compiler
  // would load and store it on every product.
  uint64_t magnitudes = magnitudes_;
  for (int r = 0; r < rows_; ++r) {
    if (!in_p.row_active[size_t(r)]) continue;
    row_used_[size_t(r)] = 1;
    const size_t base = size_t(r) * size_t(cols_);
    int64_t* acc = &acc_[base];
    const int64_t* prod = &in_p.product[base];
    adds += uint64_t(in_p.active_cols);
    int64_t* exact = &exact_[base];
    const int n = in_p.active_cols;
    if (!diverged_[size_t(r)]) {
      // The row's accumulators still equal their exact sums: add, and only
      // when a raw sum left the range keep the exact sums apart from now on.
      if (add_row_unchecked(acc, prod, n, acc_bits_, magnitudes) == 0) continue;
      std::copy(acc, acc + cols_, exact);  // the raw sums: exact
      diverged_[size_t(r)] = 1;
    } else {
      add_row_exact(exact, prod, n, magnitudes);
      uint64_t raw_magnitudes = 0;  // of the saturated or wrapped sums: not wanted
      if (add_row_unchecked(acc, prod, n, acc_bits_, raw_magnitudes) == 0) continue;
    }
    overflows += saturate_or_wrap_row(acc, n, acc_bits_, policy_);
  }
  magnitudes_ = magnitudes;
  stats_->acc_add += adds;
  stats_->acc_overflow += overflows;
  if (!in_p.tag.tile_last) return;
  o.tag = in_p.tag;
  o.active_cols = in_p.active_cols;
  o.row_valid.swap(row_used_);
  o.sum.swap(acc_);
  row_used_.assign(size_t(rows_), 0);
  acc_.assign(size_t(rows_) * size_t(cols_), 0);
  std::fill(diverged_.begin(), diverged_.end(), 0);
}

}  // namespace mls::hw
