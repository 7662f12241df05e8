// The local accumulators' rows redone product by product (array_kernels.h).
#include <algorithm>
#include <type_traits>

#include "hw_model/datapath/datapath.h"

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// redo_row's body (array_kernels.h): the row's registers from 0, product by
// product in the edges' order, as AccRegisterFile adds at each edge (the
// datapath's row helpers, hw_model/datapath/datapath.h). Lane int32 with
// int64 exact sums, or int64 with 128-bit ones.
template <class Lane, class Exact>
__attribute__((always_inline)) inline uint64_t redo_row_body(Lane* __restrict acc, Exact* __restrict exact,
                                                            Lane* __restrict prod, const RedoRow& w,
                                                            uint64_t& magnitudes,
                                                            unsigned __int128& exact_magnitudes) {
  using U = std::make_unsigned_t<Lane>;
  const int n = w.n;
  std::fill(acc, acc + n, Lane(0));
  bool diverged = false;
  uint64_t overflows = 0;
  for (int32_t s = 0; s < w.len; ++s) {
    // The product's low bits are those of the operands' low bits' product:
    // a lane-wide multiply is the 64-bit one's low part, and a narrow
    // product (below 2^30) all of it.
    const int32_t* __restrict x = w.x + s * w.x_stride;
    const U ys = U(Lane(w.y[s]));
    for (int c = 0; c < n; ++c) prod[c] = Lane(U(Lane(x[c])) * ys);
    if (w.lsb_fault && n > 0) prod[0] = Lane(prod[0] | 1);
    uint64_t raw_magnitudes = 0;
    if (diverged) {
      add_row_exact(exact, prod, n, exact_magnitudes);
      if (add_row_unchecked(acc, prod, n, w.acc_bits, raw_magnitudes))
        overflows += saturate_or_wrap_row(acc, n, w.acc_bits, w.policy);
      continue;
    }
    const bool out_of_range = add_row_unchecked(acc, prod, n, w.acc_bits, raw_magnitudes) != 0;
    magnitudes |= raw_magnitudes;  // exact sums
    if (!out_of_range) continue;
    std::copy(acc, acc + n, exact);
    diverged = true;
    overflows += saturate_or_wrap_row(acc, n, w.acc_bits, w.policy);
  }
  return overflows;
}

}  // namespace

__attribute__((target_clones("avx2", "default")))
uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

__attribute__((target_clones("avx2", "default")))
uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

namespace portable {

uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

}  // namespace portable

}  // namespace mls::hw::kernels
