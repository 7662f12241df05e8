#pragma once
// The grouped matrix product every pass of every layer kind lowers to
// (docs/reference.md#lowering-to-a-grouped-product):
//   Out[m, p] = sum_g sum_{k in g} X[m, g, k] * Y[p, g, k]
// The lowering says WHICH quantized element feeds each product; it holds no
// arithmetic, so the golden model and the SystemC array can share it and still
// disagree on the numbers. Each kind (ref/workload/layer_kind.h) builds its passes with
// the helpers below; tests check them against the kind's direct evaluation.
#include <cstdint>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/quant/quantizer.h"
#include "ref/core/tensor.h"

namespace mls {

// Entries of one lowering table (int32 indices) at most: 2^31 - 1.
constexpr int64_t kMaxLoweredEntries = (int64_t{1} << 31) - 1;

struct LoweredPass {
  Pass pass = Pass::fwd;
  int64_t m = 0, p = 0, g = 0, k = 0;  // sizes of the grouped product
  Shape out_shape;
  // Flat index of the X (Y) element of each product, -1 for a zero (padding or
  // zero insertion) tap. Layout [m][g][k] and [p][g][k].
  std::vector<int32_t> x_index, y_index;
  // Group-scale index of X[m, g, *] and Y[p, g, *] in their tensors' layouts.
  std::vector<int32_t> x_group, y_group;
  // Flat index in the output tensor of Out[m, p].
  std::vector<int64_t> out_index;

  int64_t macs() const { return m * p * g * k; }
  // Products whose two operands are both tensor elements: macs() less the
  // padding and zero-insertion taps.
  int64_t useful_macs() const;
};

// The lowering stores one index per operand slot: a pass whose tables (m x gk,
// p x gk or m x p entries) would not fit is refused with its sizes, before
// anything is allocated.
void check_lowered_entries(Pass pass, int64_t m, int64_t p, int64_t gk);

// Fills one operand's tables: for each row r (m for X, p for Y) and group g,
// group_of(r, g), the group-scale index, then index_of(r, g, k), the element
// index of each k (-1: a zero tap). lp.g and lp.k must be set.
template <class GroupOf, class IndexOf>
void fill_operand(int64_t rows, const LoweredPass& lp, GroupOf group_of, IndexOf index_of,
                  std::vector<int32_t>& groups, std::vector<int32_t>& indices) {
  groups.reserve(size_t(rows * lp.g));
  indices.reserve(size_t(rows * lp.g * lp.k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < lp.g; ++g) {
      groups.push_back(int32_t(group_of(r, g)));
      for (int64_t k = 0; k < lp.k; ++k) indices.push_back(int32_t(index_of(r, g, k)));
    }
}

// Block groupings (docs/formats.md#block-groupings). The pass's reduction
// index is (c, t): c the index the blocks cut (a channel, the batch, a matrix
// row), of length `len`, and t the rest (kernel taps, output positions), of
// `taps` values. The shared partition: g = (c-block, t), k = c inside its block,
// k = min(B, len), the last block of each t padded with zero taps.
struct BlockedReduction {
  int64_t len = 0, taps = 1, kb = 1, nb = 1;
  BlockedReduction(int64_t length, int64_t tap_count, int block_size);
  int64_t g() const { return nb * taps; }
};

// Throws mls::Error unless X and Y are both block-grouped with one B
// (MlsConfig::validate refuses other mixes first); `what` names the pass.
// Returns true when they are block-grouped, false when neither is.
bool blocked_pass(const GroupLayout& x, const GroupLayout& y, const std::string& what);

[[noreturn]] void throw_block_straddle(int64_t r, int64_t cb, int64_t t);

// Fills one operand's tables of a blocked pass: at(r, c, t) is the flat index
// of the element (c, t) of row r, -1 for a zero tap. A group's scale index is
// that of its first real element (0 for a group of zero taps only, whose
// products are all zero). Throws mls::Error if two real elements of one
// (r, g) lie in different quantization groups: a kind whose block_axis()
// does not match its lowering.
template <class At>
void fill_blocked(int64_t rows, const BlockedReduction& red, const GroupLayout& layout, At at,
                  std::vector<int32_t>& groups, std::vector<int32_t>& indices) {
  groups.reserve(size_t(rows * red.g()));
  indices.reserve(size_t(rows * red.g() * red.kb));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t cb = 0; cb < red.nb; ++cb)
      for (int64_t t = 0; t < red.taps; ++t) {
        int64_t group = -1;
        for (int64_t k = 0; k < red.kb; ++k) {
          const int64_t c = cb * red.kb + k;
          const int64_t idx = c < red.len ? at(r, c, t) : -1;
          indices.push_back(int32_t(idx));
          if (idx < 0) continue;
          const int64_t gi = layout.group_of(idx);
          if (group >= 0 && gi != group) throw_block_straddle(r, cb, t);
          group = gi;
        }
        groups.push_back(int32_t(group < 0 ? 0 : group));
      }
}

}  // namespace mls
