// The block functions of the width-aware energy model (docs/energy.md#the-model).
#include "sim/energy/energy_model.h"

#include <algorithm>

namespace mls {

namespace {

// Stages of a logarithmic shifter or normaliser covering 0..n: ceil(log2(n + 1)).
int log2_stages(int n) {
  int stages = 0;
  while ((1 << stages) < n + 1) ++stages;
  return stages;
}

}  // namespace

const std::vector<CoefficientInfo>& coefficient_infos() {
  static const std::vector<CoefficientInfo> infos = {
      {"int_add_op", true, &Coefficients::int_add_op, nullptr, "integer adder, per add (any width)"},
      {"int_add_bit", true, &Coefficients::int_add_bit, nullptr, "integer adder, per bit of width"},
      {"int_mul_op", true, &Coefficients::int_mul_op, nullptr, "integer array multiplier, per multiply"},
      {"int_mul_pp_bit", true, &Coefficients::int_mul_pp_bit, nullptr,
       "integer array multiplier, per partial-product bit (a x b)"},
      {"shift_mux_bit", true, &Coefficients::shift_mux_bit, nullptr, "barrel shifter, per 2:1 multiplexer bit"},
      {"fp_add_bit", true, &Coefficients::fp_add_bit, nullptr, "floating-point adder, per bit of the format"},
      {"fp_add_align_bit", true, &Coefficients::fp_add_align_bit, nullptr,
       "floating-point adder, per mantissa bit per alignment/normalisation stage"},
      {"fp_mul_bit", true, &Coefficients::fp_mul_bit, nullptr, "floating-point multiplier, per bit of the format"},
      {"fp_mul_pp_bit", true, &Coefficients::fp_mul_pp_bit, nullptr,
       "floating-point multiplier, per mantissa partial-product bit"},
      {"sram_read_bit", false, nullptr, &Coefficients::sram_read_bit,
       "on-chip buffer read, per bit (with sram_write_bit)"},
      {"sram_write_bit", false, nullptr, &Coefficients::sram_write_bit,
       "on-chip buffer write, per bit (with sram_read_bit)"},
      {"dram_read_bit", false, nullptr, &Coefficients::dram_read_bit,
       "DRAM read, per bit (with dram_write_bit; needs the sram pair)"},
      {"dram_write_bit", false, nullptr, &Coefficients::dram_write_bit,
       "DRAM write, per bit (with dram_read_bit; needs the sram pair)"},
      {"gated_fraction", false, nullptr, &Coefficients::gated_fraction,
       "energy of a gated multiply or accumulator add, as a fraction of the full one (--gating)"},
  };
  return infos;
}

double int_adder(const Coefficients& c, int bits) { return c.int_add_op + c.int_add_bit * bits; }

double int_multiplier(const Coefficients& c, int a_bits, int b_bits) {
  return c.int_mul_op + c.int_mul_pp_bit * double(a_bits) * double(b_bits);
}

double barrel_shifter(const Coefficients& c, int width, int max_shift) {
  return c.shift_mux_bit * double(log2_stages(max_shift)) * double(width);
}

double fp_adder(const Coefficients& c, const FloatFormat& f) {
  const int mantissa = f.m + 1;
  return c.fp_add_bit * f.bits() + c.fp_add_align_bit * double(mantissa) * log2_stages(f.m);
}

double fp_multiplier(const Coefficients& c, const FloatFormat& f) {
  const double mantissa = f.m + 1;
  return c.fp_mul_bit * f.bits() + c.fp_mul_pp_bit * mantissa * mantissa;
}

int element_mantissa_bits(const ElemFormat& f) { return f.e == 0 ? f.m : f.m + 1; }

int element_max_shift(const ElemFormat& f) { return f.e == 0 ? 0 : (1 << f.e) - 2; }

double element_multiplier(const Coefficients& c, const ElemFormat& x, const ElemFormat& y) {
  const int product_bits = element_mantissa_bits(x) + element_mantissa_bits(y);
  const int max_shift = element_max_shift(x) + element_max_shift(y);
  return int_multiplier(c, element_mantissa_bits(x), element_mantissa_bits(y)) +
         barrel_shifter(c, product_bits + max_shift, max_shift);
}

double local_accumulator_add(const Coefficients& c, int acc_bits) { return int_adder(c, acc_bits); }

double group_scaler(const Coefficients& c, const ScaleFormat& x, const ScaleFormat& y, int acc_bits) {
  const int width = acc_bits + x.m + y.m;
  const double exponent_add = int_adder(c, std::max(x.e, y.e) + 1);
  const double normalise = barrel_shifter(c, width, width - 1);
  if (group_scaler_multiplies(x, y)) {
    // The (M_g+1)-bit mantissas multiply first, then the chunk sum by their
    // product: two array multipliers instead of M_g shift-adds each.
    const int product_bits = (x.m + 1) + (y.m + 1);
    return int_multiplier(c, x.m + 1, y.m + 1) + int_multiplier(c, acc_bits, product_bits) + exponent_add +
           normalise;
  }
  const double shift_adds = double(x.m + y.m) * int_adder(c, width);
  return shift_adds + exponent_add + normalise;
}

ActionPrices width_aware_prices(const Coefficients& c, const PassWidths& w) {
  ActionPrices p;
  p.element_mul = element_multiplier(c, w.x_elem, w.y_elem);
  p.acc_add = local_accumulator_add(c, w.acc_bits);
  p.group_scale = group_scaler(c, w.x_scale, w.y_scale, w.acc_bits);
  p.fp32_add = fp_adder(c, kFp32);
  p.fp32_mul = fp_multiplier(c, kFp32);
  p.fp8_mul = fp_multiplier(c, kFp8E4M3);
  p.fp16_add = fp_adder(c, kFp16);
  p.bf16_mul = fp_multiplier(c, kBf16);
  if (c.gated_fraction) {
    p.element_mul_gated = *c.gated_fraction * p.element_mul;
    p.acc_add_gated = *c.gated_fraction * p.acc_add;
  }
  p.vector = vector_prices(p.fp32_add, p.fp32_mul, [&c](int bits) { return int_adder(c, bits); }, w);
  p.read_bit = c.sram_read_bit;
  p.write_bit = c.sram_write_bit;
  p.dram_read_bit = c.dram_read_bit;
  p.dram_write_bit = c.dram_write_bit;
  return p;
}

}  // namespace mls
