// The group scaler's row kernel (array_kernels.h).
#include <cstring>

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// One row of group_scale's double form: value[c] = fp32(sum[c] * mantissa[c]
// * 2^(exp[c])) with mantissa[c] = x_mantissa[c] * y_mantissa and exp[c] =
// x_exp[c] + y_exp, one rounding (scale_in_double's arithmetic: the sum
// converted exactly, |sum| < 2^45, times a mantissa product below 2^8 is
// below 2^53, so exact, and times a normal power of two exact too). The sum
// goes to double by the exponent-bias trick (1.5 * 2^52 + sum, exact for
// |sum| < 2^51) so that the loop vectorises without AVX-512's int64-to-double
// conversion. Returns false when some element is outside in_double_range:
// then the row is scaled element by element instead.
__attribute__((always_inline)) inline bool scale_row_body(float* __restrict value, const int64_t* __restrict sum,
                                                         const int32_t* __restrict x_exp,
                                                         const int32_t* __restrict x_mantissa, int32_t y_exp,
                                                         int32_t y_mantissa, int n) {
  constexpr uint64_t kBias = 0x4338000000000000;  // 1.5 * 2^52
  constexpr double kBiasValue = 6755399441055744.0;
  uint64_t outside = 0;
  for (int c = 0; c < n; ++c) {
    const int64_t s = sum[c];
    const int64_t e = int64_t(x_exp[c]) + y_exp;
    outside |= uint64_t(s + (kScaleInDouble - 1)) > uint64_t(2 * kScaleInDouble - 2);
    outside |= uint64_t(e + 1022) > uint64_t(1022 + 960);
    double d, pow2;
    const uint64_t s_bits = uint64_t(s) + kBias, pow2_bits = uint64_t(e + 1023) << 52;
    std::memcpy(&d, &s_bits, sizeof d);
    std::memcpy(&pow2, &pow2_bits, sizeof pow2);
    value[c] = float((d - kBiasValue) * double(x_mantissa[c] * y_mantissa) * pow2);
  }
  return outside == 0;
}

}  // namespace

// scale_row_body compiled for AVX2 too (four lanes per instruction) and for
// the baseline; the loader picks one for the CPU. One rounding per element,
// so every clone gives the same bits.
__attribute__((target_clones("avx2", "default")))
bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n) {
  return scale_row_body(value, sum, x_exp, x_mantissa, y_exp, y_mantissa, n);
}

namespace portable {

bool scale_row(float* value, const int64_t* sum, const int32_t* x_exp, const int32_t* x_mantissa, int32_t y_exp,
               int32_t y_mantissa, int n) {
  return scale_row_body(value, sum, x_exp, x_mantissa, y_exp, y_mantissa, n);
}

}  // namespace portable

}  // namespace mls::hw::kernels
