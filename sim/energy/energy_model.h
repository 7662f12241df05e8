#pragma once
// The width-aware energy model (docs/energy.md#the-model): one function per
// hardware block, giving the energy of one action of that block at the widths
// it is built for, from a few technology coefficients. A table
// (sim/energy/energy.h) either holds such coefficients or prices each action
// flat; both become the ActionPrices of one layer-pass, which the pricing of
// the event counts (energy.cpp) uses.
#include <optional>
#include <string>
#include <vector>

#include "ref/format/format.h"

namespace mls {

// Technology coefficients: what a width-aware table holds. Every block energy
// below is a sum of these times a count of bits of the block.
struct Coefficients {
  double int_add_op = 0;      // integer adder: per add, whatever the width
  double int_add_bit = 0;     //   + per bit of width
  double int_mul_op = 0;      // integer array multiplier: per multiply
  double int_mul_pp_bit = 0;  //   + per partial-product bit (a x b)
  double shift_mux_bit = 0;   // barrel shifter: per 2:1 multiplexer bit
  double fp_add_bit = 0;      // floating-point adder: per bit of the format
  double fp_add_align_bit = 0;  //   + per mantissa bit per alignment/normalisation stage
  double fp_mul_bit = 0;      // floating-point multiplier: per bit of the format
  double fp_mul_pp_bit = 0;   //   + per mantissa partial-product bit
  std::optional<double> sram_read_bit, sram_write_bit;  // on-chip buffer, per bit moved
  std::optional<double> dram_read_bit, dram_write_bit;  // off-chip memory, per bit moved
  std::optional<double> gated_fraction;  // energy of a gated action / the full action
};

// What a coefficient is, for tables, messages and docs.
struct CoefficientInfo {
  const char* name;
  bool required;
  double Coefficients::*member;                  // a required coefficient
  std::optional<double> Coefficients::*optional;  // an optional one
  const char* what;
};
const std::vector<CoefficientInfo>& coefficient_infos();

// A floating-point format of the baselines: 1 sign bit, e exponent bits, m
// mantissa bits (a hidden bit besides).
struct FloatFormat {
  const char* name;
  int e, m;
  int bits() const { return 1 + e + m; }
};
inline constexpr FloatFormat kFp32{"fp32", 8, 23};
inline constexpr FloatFormat kFp16{"fp16", 5, 10};
inline constexpr FloatFormat kBf16{"bf16", 8, 7};
inline constexpr FloatFormat kFp8E4M3{"fp8_e4m3", 4, 3};  // the fp8 baselines' multiply
inline constexpr FloatFormat kFp8E5M2{"fp8_e5m2", 5, 2};

// ---------------------------------------------------------------------------
// The blocks. Each is documented, with its formula, in docs/energy.md.

// An n-bit integer adder: int_add_op + int_add_bit * n.
double int_adder(const Coefficients& c, int bits);
// An a x b-bit integer array multiplier: int_mul_op + int_mul_pp_bit * a * b.
double int_multiplier(const Coefficients& c, int a_bits, int b_bits);
// A logarithmic barrel shifter with `width` output bits that shifts by
// 0..max_shift: ceil(log2(max_shift + 1)) stages of `width` 2:1 muxes.
double barrel_shifter(const Coefficients& c, int width, int max_shift);
// fp adder: fp_add_bit * bits + fp_add_align_bit * (m + 1) * ceil(log2(m + 1)).
double fp_adder(const Coefficients& c, const FloatFormat& f);
// fp multiplier: fp_mul_bit * bits + fp_mul_pp_bit * (m + 1)^2.
double fp_multiplier(const Coefficients& c, const FloatFormat& f);

// Integer mantissa width of an element as the multiplier takes it: M_x + 1
// (the hidden bit) when E_x >= 1, M_x when E_x = 0 (fixed point).
int element_mantissa_bits(const ElemFormat& f);
// Largest left shift of an element: exponent code 2^E_x - 1 shifts by 2^E_x - 2.
int element_max_shift(const ElemFormat& f);

// The MLS element multiplier: the mantissa multiply, then the shift of the
// product by the sum of both exponents.
double element_multiplier(const Coefficients& c, const ElemFormat& x, const ElemFormat& y);
// One add of the acc_bits-wide local accumulator.
double local_accumulator_add(const Coefficients& c, int acc_bits);
// Whether the group scaler of a pass is the multiplier form: a group-scale
// mantissa of 2 bits or more on either operand (NVFP4's e4m3 scales) makes
// shift-adds the wrong circuit; with M_g <= 1 on both it shifts and adds.
inline bool group_scaler_multiplies(const ScaleFormat& x, const ScaleFormat& y) { return x.m >= 2 || y.m >= 2; }
// One group-scaler operation. Shift-add form: a shift-add per group-scale
// mantissa bit of X and of Y on the (acc_bits + M_gx + M_gy)-bit sum. Multiplier
// form: an (M_gx+1) x (M_gy+1) mantissa multiply, then the acc_bits-wide chunk
// sum times that product. Both: the exponent add, and the normalisation of
// the sum into fp32.
double group_scaler(const Coefficients& c, const ScaleFormat& x, const ScaleFormat& y, int acc_bits);

// ---------------------------------------------------------------------------
// One layer-pass's widths: the formats of its X and Y operands, the
// accumulator, and the reduction's group length k (each group scale serves k
// elements).
struct PassWidths {
  ElemFormat x_elem, y_elem;
  ScaleFormat x_scale, y_scale;
  int acc_bits = 16;
  long long group_len = 1;
  // Bits of a result as it leaves the array (--out-format); each design writes
  // min(this, the width its accumulator implies) (docs/energy.md#output-width).
  int out_bits = 32;
};

// The vector unit (docs/energy.md#vector-work): an fp32 unit for the vector
// ops, and the quantizer's integer work at its widths. Every table prices it:
// from its own fp32 add and multiply, and its integer adder (vector_prices).
struct VectorPrices {
  double add = 0, mul = 0;  // fp32 add (also subtract, compare), fp32 multiply
  double div = 0;           // derived: Newton-Raphson reciprocal and a multiply, 5 mul + 2 add
  double exp = 0;           // derived: range reduction and a degree-5 polynomial, 6 mul + 6 add
  double rsqrt = 0;         // derived: two Newton-Raphson steps, 6 mul + 2 add
  double max_compare = 0;   // quantizer, per element: a 31-bit integer compare of the magnitude
  double elem_round = 0;    // quantizer, per element: the fp32 multiply by 1 / scale, a 24-bit rounding add
  double scale_round = 0;   // quantizer, per group: the fp32 ratio multiply, an (E_g + M_g)-bit rounding add
  double bf16_round = 0;    // bf16 baseline, per element: a 16-bit rounding add
};
// The vector prices from an fp32 add, an fp32 multiply and an integer adder of
// `bits` bits, at the pass's group-scale widths.
template <class IntAdd>
VectorPrices vector_prices(double fp32_add, double fp32_mul, IntAdd&& int_add, const PassWidths& w) {
  VectorPrices v;
  v.add = fp32_add;
  v.mul = fp32_mul;
  v.div = 5 * fp32_mul + 2 * fp32_add;
  v.exp = 6 * fp32_mul + 6 * fp32_add;
  v.rsqrt = 6 * fp32_mul + 2 * fp32_add;
  v.max_compare = int_add(31);
  v.elem_round = fp32_mul + int_add(24);
  const int scale_bits = w.x_scale.e + w.x_scale.m > w.y_scale.e + w.y_scale.m ? w.x_scale.e + w.x_scale.m
                                                                              : w.y_scale.e + w.y_scale.m;
  v.scale_round = fp32_mul + int_add(scale_bits);
  v.bf16_round = int_add(16);
  return v;
}

// The energy of one action of every block of every design, at one pass's
// widths. Optional prices are those a table may leave out: the baselines
// they belong to, gating or memory are then not priced.
struct ActionPrices {
  // MLS array.
  double element_mul = 0;   // element multiplier
  double acc_add = 0;       // local accumulator
  double group_scale = 0;   // group scaler
  double fp32_add = 0;      // adder tree, output accumulator; fp32 and fp8 baselines
  double fp32_mul = 0;      // final scale; fp32 baseline
  std::optional<double> element_mul_gated, acc_add_gated;  // --gating
  // Baselines.
  std::optional<double> fp8_mul;   // e4m3 x e4m3
  std::optional<double> fp16_add;  // fp8-fp16acc accumulation
  std::optional<double> bf16_mul;
  // Memory, per bit: the on-chip buffers and DRAM.
  std::optional<double> read_bit, write_bit;
  std::optional<double> dram_read_bit, dram_write_bit;
  // The vector unit, every design's.
  VectorPrices vector;
};

// The prices of a width-aware table at `w`.
ActionPrices width_aware_prices(const Coefficients& c, const PassWidths& w);

}  // namespace mls
