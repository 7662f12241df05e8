#pragma once
// The golden model's lane kernels (never shared with the array's,
// hw_model/kernels/: the check must be able to disagree). One chunk of
// kLanes = 16 outputs side by side over int16 operands: X as
// [pair][lane][2] int16 (k and k + 1 of each lane), Y as one int32 per pair
// holding (y_k, y_k+1) as two int16 (pmaddwd's pair order), so
//   sum[lane] = sum over pairs of x[2 q] y_lo + x[2 q + 1] y_hi   (int32)
// and, with the range check, the same over |x| and |y| into abs_sum; the
// caller guarantees no int32 sum overflows (chunk * max|x| * max|y| < 2^31).
// Runtime dispatch: AVX2 when the CPU has it, else SSE2 on x86-64, else the
// portable form; each form is tested against the portable twin
// (testbenches/unit/ref_golden_kernels_test.cpp).
#include <cstdint>

namespace mls::golden_detail::kernels {

constexpr int kLanes = 16;

// Writes sum[0..16), and with the range check (abs_sum given; then xa and ya
// too) abs_sum[0..16); returns, with the check, whether some abs_sum exceeds hi.
using ChunkSumsFn = bool (*)(const int16_t* x, const int16_t* xa, const int32_t* y, const int32_t* ya,
                             int64_t npairs, int32_t hi, int32_t* sum, int32_t* abs_sum);

// The form this CPU runs (picked once).
ChunkSumsFn chunk_sums();

// Each form, for the test; avx2() and sse2() are nullptr where the CPU or
// the target has no such form.
namespace portable {
bool chunk_sums(const int16_t* x, const int16_t* xa, const int32_t* y, const int32_t* ya, int64_t npairs, int32_t hi,
                int32_t* sum, int32_t* abs_sum);
}
ChunkSumsFn avx2();
ChunkSumsFn sse2();

}  // namespace mls::golden_detail::kernels
