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
