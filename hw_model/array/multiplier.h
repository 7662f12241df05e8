#pragma once
// The R x C FP-MUL-less multipliers: each decodes its two <E_x, M_x> elements
// into an (M+1)-bit mantissa and a shift, multiplies the mantissas and shifts.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/datapath/datapath.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class Multiplier : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<Operands> in;
  PipeOut<Products> out;

  SC_HAS_PROCESS(Multiplier);
  Multiplier(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats);
  // The element formats of X and Y of the next job (they differ when W, A and
  // E are quantized differently); the decoders are rebuilt for them.
  void set_formats(const ElemFormat& x, const ElemFormat& y);
  // The products of these formats travel as int32 (Products::narrow).
  bool narrow() const { return narrow_; }

 private:
  void on_clock();

  template <class T>
  uint64_t multiply_rows(const Operands& in_ops, std::vector<T>& product);

  const int rows_, cols_, acc_bits_;
  const Fault fault_;
  Stats* stats_;
  // Each decoder as a table: code -> operand_value (sign * mantissa << shift),
  // so a PE's multiply-then-shift is one integer multiply here (the identity
  // is operand_value's, hw_model/datapath). A value is 0 iff its mantissa is.
  std::vector<int32_t> value_x_, value_y_;
  CodeFields x_fields_;  // X's decoder without a table, for narrow products
  bool narrow_ = false;
};

}  // namespace mls::hw
