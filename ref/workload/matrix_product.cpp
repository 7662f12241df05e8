#include "ref/workload/matrix_product.h"

#include <numeric>

namespace mls {

int64_t group_run(const GroupLayout& layout, const MatrixView& view, int64_t rows, int64_t r) {
  int64_t run = r;
  // A group change at position i means every run boundary must divide i.
  for (int64_t row = 0; row < rows && run > 1; ++row) {
    int64_t prev = layout.group_of(view.at(row, 0));
    for (int64_t i = 1; i < r && run > 1; ++i) {
      const int64_t g = layout.group_of(view.at(row, i));
      if (g != prev) run = std::gcd(run, i);
      prev = g;
    }
  }
  return run;
}

namespace {

// Block groupings: g = the blocks of r, k = r inside its block (lowering.h).
LoweredPass lower_blocked(const MatrixProduct& mp, const GroupLayout& xl, const GroupLayout& yl) {
  const BlockedReduction red(mp.r, 1, xl.group.block_size);
  check_lowered_entries(mp.pass, mp.m, mp.p, red.nb * red.kb);
  LoweredPass lp;
  lp.pass = mp.pass;
  lp.m = mp.m, lp.p = mp.p, lp.g = red.g(), lp.k = red.kb;
  lp.out_shape = mp.out_shape;
  fill_blocked(lp.m, red, xl, [&](int64_t m, int64_t r, int64_t) { return mp.x.at(m, r); }, lp.x_group, lp.x_index);
  const MatrixView y = mp.y;
  lp.y_row = blocked_rows(red, yl, [y](int64_t p, int64_t r, int64_t) { return y.at(p, r); });
  lp.out_index.reserve(size_t(lp.m * lp.p));
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back(mp.out.at(m, p));
  return lp;
}

}  // namespace

LoweredPass lower_matrix_product(const MatrixProduct& mp, const GroupLayout& xl, const GroupLayout& yl) {
  if (blocked_pass(xl, yl, to_string(mp.pass))) return lower_blocked(mp, xl, yl);
  check_lowered_entries(mp.pass, mp.m, mp.p, mp.r);
  LoweredPass lp;
  lp.pass = mp.pass;
  lp.k = std::gcd(group_run(xl, mp.x, mp.m, mp.r), group_run(yl, mp.y, mp.p, mp.r));
  lp.g = mp.r / lp.k;
  lp.m = mp.m, lp.p = mp.p;
  lp.out_shape = mp.out_shape;
  // The first element of each (row, g) run carries the run's group scale.
  fill_operand(lp.m, lp, [&](int64_t m, int64_t g) { return xl.group_of(mp.x.at(m, g * lp.k)); },
               [&](int64_t m, int64_t g, int64_t k) { return mp.x.at(m, g * lp.k + k); }, lp.x_group, lp.x_index);
  const MatrixView y = mp.y;
  const int64_t run = lp.k;
  lp.y_row = operand_rows(lp.g, lp.k, [yl, y, run](int64_t p, int64_t g) { return yl.group_of(y.at(p, g * run)); },
                          [y, run](int64_t p, int64_t g, int64_t k) { return y.at(p, g * run + k); });
  lp.out_index.reserve(size_t(lp.m * lp.p));
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) lp.out_index.push_back(mp.out.at(m, p));
  return lp;
}

Shape matrix_shape(const Shape& natural) {
  const int64_t last = natural.empty() ? 1 : natural.back();
  return {last > 0 ? numel(natural) / last : 0, last};
}

}  // namespace mls
