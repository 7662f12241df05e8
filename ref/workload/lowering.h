#pragma once
// The grouped matrix product every pass of every layer kind lowers to
// (docs/reference.md#lowering-to-a-grouped-product):
//   Out[m, p] = sum_g sum_{k in g} X[m, g, k] * Y[p, g, k]
// The lowering says WHICH quantized element feeds each product; it holds no
// arithmetic, so the golden model and the SystemC array can share it and still
// disagree on the numbers. Each kind (ref/workload/layer_kind.h) builds its passes with
// the helpers below; tests check them against the kind's direct evaluation.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/quant/quantizer.h"
#include "ref/core/tensor.h"

namespace mls {

// Entries of one stored lowering table (int32 indices) at most: 2^31 - 1.
constexpr int64_t kMaxLoweredEntries = (int64_t{1} << 31) - 1;

// One operand's side of the product, produced a row at a time: for row r, the
// group-scale index of each of its g groups into groups[0, g), and the element
// index of each of its g x k slots ([g][k], -1 for a zero tap) into
// indices[0, g k). It holds copies of the kind's geometry, never references,
// so it outlives the lower() call that made it and two threads may call it at
// once (the golden model beside the array).
using RowFill = std::function<void(int64_t r, int32_t* groups, int32_t* indices)>;

// A separable kind's rows (separable_rows below) in their two parts, for a
// consumer that gathers the elements itself instead of reading g x k indices
// (the golden model, the job's Y fill) or needs only which slots are real
// and which elements are touched (useful_macs, the memory plan):
// offsets(r, k offsets) writes row r's k tap offsets (-1: a zero tap) and
// returns its base and step, so slot (g, k) reads
// base + g * step + offset[k]; groups(r, g scale indices) writes its groups.
// Empty unless the kind's rows separate. It describes the same rows as
// y_row: code that replaces y_row must reset it.
struct RowBase {
  int64_t base = 0, step = 0;
};
struct SeparableRows {
  std::function<RowBase(int64_t r, int32_t* offsets)> offsets;
  std::function<void(int64_t r, int32_t* groups)> groups;
  explicit operator bool() const { return bool(offsets); }
};

struct LoweredPass {
  Pass pass = Pass::fwd;
  int64_t m = 0, p = 0, g = 0, k = 0;  // sizes of the grouped product
  // Run with row filling (Mapping::fill_rows): set for a pass under a block
  // grouping, whose few long groups would leave rows idle (docs/layers.md#utilisation-under-block-groupings).
  bool fill_rows = false;
  Shape out_shape;
  // X is stored: the flat index of the X element of each (m, g, k) slot, -1
  // for a zero tap, layout [m][g][k], and the group-scale index of each
  // X[m, g, *], [m][g]. These are as large as X itself (X is a weight or an
  // error tensor, never an unrolled input).
  std::vector<int32_t> x_index, x_group;
  // Y is never stored whole: an unrolled input (im2col) has a slot per
  // product of its row, p x g x k in all, which grows with the MACs, not with
  // the tensors. Its rows are generated when a consumer needs them.
  RowFill y_row;
  SeparableRows y_parts;  // the same rows in parts, where they separate
  // Flat index in the output tensor of Out[m, p], [m][p]; empty when it is
  // m * p + p itself (a compact result, BlockPass).
  std::vector<int64_t> out_index;

  int64_t macs() const { return m * p * g * k; }
  // Products whose two operands are both tensor elements: macs() less the
  // padding and zero-insertion taps. Walks Y's separable parts (p x k
  // offsets) where the rows separate, else generates every Y row once.
  int64_t useful_macs() const;
  int64_t out_at(int64_t i) const { return out_index.empty() ? i : out_index[size_t(i)]; }
};

// Rows [begin, end) of one operand's tables, [row][g] and [row][g][k].
struct RowTables {
  std::vector<int32_t> groups, index;
};
// Y's rows [begin, end) (end < 0: to p) as stored tables: for tests, `vectors`
// and the plain reference walk, whose passes are small.
RowTables y_tables(const LoweredPass& lp, int64_t begin = 0, int64_t end = -1);
// The same into `out`, reusing its storage (the golden model's slices).
void fill_y_tables(const LoweredPass& lp, int64_t begin, int64_t end, RowTables& out);
// A RowFill reading stored tables of g groups of k slots per row: for passes
// built by hand (tests).
RowFill table_rows(RowTables tables, int64_t g, int64_t k);

// The lowering stores one index per X slot and per output: a pass whose
// stored tables (m x gk or m x p entries) would not fit is refused with its
// sizes, before anything is allocated. Y's p x gk rows are generated, so they
// have no such limit.
void check_lowered_entries(Pass pass, int64_t m, int64_t p, int64_t gk);

// One operand's rows for row r and group g: group_of(r, g), the group-scale
// index, then index_of(r, g, k), the element index of each k (-1: a zero
// tap). Both are copied into the RowFill: capture by value.
template <class GroupOf, class IndexOf>
RowFill operand_rows(int64_t g_count, int64_t k_count, GroupOf group_of, IndexOf index_of) {
  return [=](int64_t r, int32_t* groups, int32_t* indices) {
    for (int64_t g = 0; g < g_count; ++g) {
      groups[g] = int32_t(group_of(r, g));
      for (int64_t k = 0; k < k_count; ++k) *indices++ = int32_t(index_of(r, g, k));
    }
  };
}

// The rows of a conv kind's Y, whose element index separates into a part of
// (r, g), base + g * step, and a part of (r, k), the tap's offset in its plane
// (negative: a zero tap). setup(r, offsets) writes row r's k offsets and
// returns its base and step; group_of(r, g) is group g's scale index. A row
// then costs k tap computations and g x k additions, not g x k index
// computations with their divisions (generating Y is on every consumer's
// path). Both are copied: capture by value.
template <class Setup, class GroupOf>
RowFill separable_rows(int64_t g_count, int64_t k_count, Setup setup, GroupOf group_of) {
  return [=](int64_t r, int32_t* groups, int32_t* indices) {
    // The offsets go into group 0's slots, which are rewritten last.
    const RowBase row = setup(r, indices);
    for (int64_t g = g_count - 1; g >= 0; --g) {
      groups[g] = int32_t(group_of(r, g));
      const int64_t base = row.base + g * row.step;
      int32_t* out = indices + g * k_count;
      for (int64_t k = 0; k < k_count; ++k) out[k] = indices[k] < 0 ? -1 : int32_t(base + indices[k]);
    }
  };
}

// Y's rows of a separable kind: y_row as separable_rows builds it and the
// same rows in their parts (y_parts).
template <class Setup, class GroupOf>
void set_separable_y(LoweredPass& lp, Setup setup, GroupOf group_of) {
  const int64_t g_count = lp.g;
  lp.y_row = separable_rows(g_count, lp.k, setup, group_of);
  lp.y_parts.offsets = setup;
  lp.y_parts.groups = [=](int64_t r, int32_t* groups) {
    for (int64_t g = 0; g < g_count; ++g) groups[g] = int32_t(group_of(r, g));
  };
}

// Stores `rows` rows of an operand (X): tables [rows][g] and [rows][g][k].
void fill_rows(int64_t rows, int64_t g, int64_t k, const RowFill& fill, std::vector<int32_t>& groups,
               std::vector<int32_t>& indices);

template <class GroupOf, class IndexOf>
void fill_operand(int64_t rows, const LoweredPass& lp, GroupOf group_of, IndexOf index_of,
                  std::vector<int32_t>& groups, std::vector<int32_t>& indices) {
  fill_rows(rows, lp.g, lp.k, operand_rows(lp.g, lp.k, group_of, index_of), groups, indices);
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

// One operand's rows of a blocked pass: at(r, c, t) is the flat index of the
// element (c, t) of row r, -1 for a zero tap (copied: capture by value). A
// group's scale index is that of its first real element (0 for a group of
// zero taps only, whose products are all zero). Throws mls::Error if two real
// elements of one (r, g) lie in different quantization groups: a kind whose
// block_axis() does not match its lowering.
template <class At>
RowFill blocked_rows(const BlockedReduction& red, const GroupLayout& layout, At at) {
  return [=](int64_t r, int32_t* groups, int32_t* indices) {
    for (int64_t cb = 0; cb < red.nb; ++cb)
      for (int64_t t = 0; t < red.taps; ++t) {
        int64_t group = -1;
        for (int64_t k = 0; k < red.kb; ++k) {
          const int64_t c = cb * red.kb + k;
          const int64_t idx = c < red.len ? at(r, c, t) : -1;
          *indices++ = int32_t(idx);
          if (idx < 0) continue;
          const int64_t gi = layout.group_of(idx);
          if (group >= 0 && gi != group) throw_block_straddle(r, cb, t);
          group = gi;
        }
        *groups++ = int32_t(group < 0 ? 0 : group);
      }
  };
}

template <class At>
void fill_blocked(int64_t rows, const BlockedReduction& red, const GroupLayout& layout, At at,
                  std::vector<int32_t>& groups, std::vector<int32_t>& indices) {
  fill_rows(rows, red.g(), red.kb, blocked_rows(red, layout, at), groups, indices);
}

}  // namespace mls
