#include "ref/workload/lowering.h"

#include <algorithm>

#include "ref/core/error.h"

namespace mls {

void check_lowered_entries(Pass pass, int64_t m, int64_t p, int64_t gk) {
  const int64_t entries = std::max({m * gk, p * gk, m * p});
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

int64_t LoweredPass::useful_macs() const {
  // X's real slots at (g, k) pair with Y's real slots at (g, k), whatever m and p.
  std::vector<int64_t> x_real(size_t(g * k), 0), y_real(size_t(g * k), 0);
  for (size_t i = 0; i < x_index.size(); ++i) x_real[i % size_t(g * k)] += x_index[i] >= 0;
  for (size_t i = 0; i < y_index.size(); ++i) y_real[i % size_t(g * k)] += y_index[i] >= 0;
  int64_t useful = 0;
  for (size_t gk = 0; gk < x_real.size(); ++gk) useful += x_real[gk] * y_real[gk];
  return useful;
}

}  // namespace mls
