#include "ref/workload/lowering.h"

#include <algorithm>
#include <memory>

#include "ref/core/error.h"

namespace mls {

void check_lowered_entries(Pass pass, int64_t m, int64_t p, int64_t gk) {
  const int64_t entries = std::max(m * gk, m * p);
  if (entries > kMaxLoweredEntries)
    throw Error(to_string(pass) + " pass: " + std::to_string(entries) + " operand slots in one table, over the limit of " +
                std::to_string(kMaxLoweredEntries) + " (tensors too large for one layer-pass)");
}

BlockedReduction::BlockedReduction(int64_t length, int64_t tap_count, int block_size)
    : len(length), taps(tap_count) {
  kb = std::max<int64_t>(1, std::min<int64_t>(block_size, len));
  nb = std::max<int64_t>(1, (len + kb - 1) / kb);
}

bool blocked_pass(const GroupLayout& x, const GroupLayout& y, const std::string& what) {
  if (!x.group.is_block() && !y.group.is_block()) return false;
  if (x.group != y.group)
    throw Error(what + ": X is grouped " + to_string(x.group) + " and Y " + to_string(y.group) +
                "; a block grouping needs the same kB on both operands of a pass");
  return true;
}

void throw_block_straddle(int64_t r, int64_t cb, int64_t t) {
  throw Error("internal: the lowered group (row " + std::to_string(r) + ", block " + std::to_string(cb) + ", tap " +
              std::to_string(t) + ") spans two quantization blocks");
}

void fill_rows(int64_t rows, int64_t g, int64_t k, const RowFill& fill, std::vector<int32_t>& groups,
               std::vector<int32_t>& indices) {
  groups.resize(size_t(rows * g));
  indices.resize(size_t(rows * g * k));
  for (int64_t r = 0; r < rows; ++r) fill(r, &groups[size_t(r * g)], &indices[size_t(r * g * k)]);
}

void fill_y_tables(const LoweredPass& lp, int64_t begin, int64_t end, RowTables& t) {
  t.groups.resize(size_t((end - begin) * lp.g));
  t.index.resize(size_t((end - begin) * lp.g * lp.k));
  for (int64_t r = begin; r < end; ++r)
    lp.y_row(r, &t.groups[size_t((r - begin) * lp.g)], &t.index[size_t((r - begin) * lp.g * lp.k)]);
}

RowTables y_tables(const LoweredPass& lp, int64_t begin, int64_t end) {
  RowTables t;
  fill_y_tables(lp, begin, end < 0 ? lp.p : end, t);
  return t;
}

RowFill table_rows(RowTables tables, int64_t g, int64_t k) {
  auto shared = std::make_shared<const RowTables>(std::move(tables));
  return [shared, g, k](int64_t r, int32_t* groups, int32_t* indices) {
    std::copy_n(&shared->groups[size_t(r * g)], g, groups);
    std::copy_n(&shared->index[size_t(r * g * k)], g * k, indices);
  };
}

int64_t LoweredPass::useful_macs() const {
  // X's real slots at (g, k) pair with Y's real slots at (g, k), whatever m and p.
  const int64_t gk = g * k;
  std::vector<int64_t> x_real(size_t(gk), 0), y_real(size_t(gk), 0);
  for (size_t i = 0; i < x_index.size(); ++i) x_real[i % size_t(gk)] += x_index[i] >= 0;
  if (y_parts) {
    // A separable row's slot (g, k) is a zero tap exactly when its offset k
    // is, whatever g: p x k offsets say what p x g x k indices would.
    std::vector<int32_t> offsets(static_cast<size_t>(k));
    std::vector<int64_t> y_taps(static_cast<size_t>(k), 0);
    for (int64_t r = 0; r < p; ++r) {
      y_parts.offsets(r, offsets.data());
      for (int64_t i = 0; i < k; ++i) y_taps[size_t(i)] += offsets[size_t(i)] >= 0;
    }
    for (int64_t i = 0; i < gk; ++i) y_real[size_t(i)] = y_taps[size_t(i % k)];
  } else {
    std::vector<int32_t> groups(static_cast<size_t>(g)), row(static_cast<size_t>(gk));
    for (int64_t r = 0; r < p; ++r) {
      y_row(r, groups.data(), row.data());
      for (int64_t i = 0; i < gk; ++i) y_real[size_t(i)] += row[size_t(i)] >= 0;
    }
  }
  int64_t useful = 0;
  for (size_t i = 0; i < x_real.size(); ++i) useful += x_real[i] * y_real[i];
  return useful;
}

}  // namespace mls
