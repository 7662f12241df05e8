#pragma once
// The array's speed kernels: the loops the local accumulators and the group
// scalers run over a whole array or row, each with runtime dispatch (GCC
// target_clones: an AVX2 clone and the baseline, picked by the loader for the
// CPU; the 32-bit multiply-accumulate also a hand-written AVX2 form) and a
// portable twin, the same arithmetic in plain C++ with no target attributes.
// tb_kernels holds each dispatched kernel to its twin on random and edge
// inputs. The golden model has its own kernels (ref/golden/kernels/); the two
// never share one.
#include <cstdint>

namespace mls::hw::kernels {

// Local accumulators, one cycle, multiply and accumulation fused: for each
// row r with on[r], acc[r * cols + c] += x_rows[r][c] * y[r] for c < n
// (mac_row_unchecked, hw_model/datapath/datapath.h: raw sums, no overflow
// handling); returns the OR of every raw sum's magnitude. int32 lanes only
// for narrow products and acc_bits <= 31 (see mac_row_unchecked).
uint64_t mac_rows(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                  int cols, int n);
uint64_t mac_rows(int64_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                  int cols, int n);

// Group scaler: value[c] = fp32(sum[c] * x_mantissa[c] * y_mantissa *
// 2^(x_exp[c] + y_exp)), one rounding; false when some element is outside the
// double form's range (the caller then scales element by element).
bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n);

// The portable twins, for the kernels' test.
namespace portable {
uint64_t mac_rows(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                  int cols, int n);
uint64_t mac_rows(int64_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                  int cols, int n);
bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n);
}  // namespace portable

}  // namespace mls::hw::kernels
