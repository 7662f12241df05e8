#pragma once
// The array's speed kernels: the loops the multiplier, the local accumulator
// and the group scaler run once per cycle over a whole row or array, each
// with runtime dispatch (GCC target_clones: an AVX2 clone and the baseline,
// picked by the loader for the CPU; the narrow multiply also a hand-written
// AVX2 form) and a portable twin, the same arithmetic in plain C++ with no
// target attributes. tb_kernels holds each dispatched kernel to its twin on
// random and edge inputs. The golden model has its own kernels
// (ref/golden/kernels/); the two never share one.
#include <cstdint>

#include "hw_model/channels/bundles.h"
#include "hw_model/datapath/datapath.h"

namespace mls::hw::kernels {

// Multiplier: the products of every active row, X's codes through the
// decoder table value_x times the row's broadcast Y value (value_y[y code]);
// returns how many products were 0. Products below 2^54: exact in int64.
uint64_t multiply_rows(int64_t* prod, const Operands& in, const int32_t* value_x, const int32_t* value_y, int rows,
                       int cols);
// The narrow form (products below 2^30): X decoded with masks and shifts
// (decode_value) rather than a table, so that it vectorises; the hand-written
// AVX2 form when the CPU has it and the active columns are whole vectors of 8.
uint64_t multiply_rows(int32_t* prod, const Operands& in, CodeFields x_fields, const int32_t* value_y, int rows,
                       int cols);

// Local accumulator: acc[c] += prod[c] with no overflow handling, each raw
// sum's magnitude ORed into `magnitudes`; non-zero iff some raw sum left the
// acc_bits range (add_row_unchecked, hw_model/datapath/datapath.h).
uint64_t add_rows(int64_t* acc, const int64_t* prod, int n, int acc_bits, uint64_t& magnitudes);
uint64_t add_rows(int32_t* acc, const int32_t* prod, int n, int acc_bits, uint64_t& magnitudes);

// Group scaler: value[c] = fp32(sum[c] * x_mantissa[c] * y_mantissa *
// 2^(x_exp[c] + y_exp)), one rounding; false when some element is outside the
// double form's range (the caller then scales element by element).
bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n);

// The portable twins, for the kernels' test.
namespace portable {
uint64_t multiply_rows(int64_t* prod, const Operands& in, const int32_t* value_x, const int32_t* value_y, int rows,
                       int cols);
uint64_t multiply_rows(int32_t* prod, const Operands& in, CodeFields x_fields, const int32_t* value_y, int rows,
                       int cols);
uint64_t add_rows(int64_t* acc, const int64_t* prod, int n, int acc_bits, uint64_t& magnitudes);
uint64_t add_rows(int32_t* acc, const int32_t* prod, int n, int acc_bits, uint64_t& magnitudes);
bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n);
}  // namespace portable

}  // namespace mls::hw::kernels
