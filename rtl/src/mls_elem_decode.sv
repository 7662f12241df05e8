// Decodes one MLS element code {sign, exp_code, man_code} of format <E, M> into
// the pieces the multiplier needs (docs/reference.md, "Elements"): the magnitude
// q = sig << shift, where sig is the (M+1)-bit mantissa with its hidden bit (a
// bare man_code for exp_code 0, the denormal or fixed-point range) and
// shift = exp_code - 1 for a normal binade. No floating point is involved.
module mls_elem_decode #(
  parameter int unsigned E = 2,  // exponent bits, 0..4
  parameter int unsigned M = 4,  // mantissa bits, 0..12 (E + M >= 1)
  // Derived widths; not meant to be overridden.
  parameter int unsigned SHW = (E == 0) ? 1 : E  // bits of the shift amount
) (
  input  logic [E+M:0]   code_i,
  output logic           sign_o,
  output logic [M:0]     sig_o,
  output logic [SHW-1:0] shift_o
);
  assign sign_o = code_i[E+M];

  if (E == 0) begin : g_fixed
    // Plain fixed point: q = man_code, no hidden bit, no shift.
    assign sig_o   = {1'b0, code_i[M-1:0]};
    assign shift_o = '0;
  end else begin : g_float
    logic [E-1:0] exp_code;
    logic         normal;
    assign exp_code = code_i[E+M-1:M];
    assign normal   = (exp_code != '0);
    if (M == 0) begin : g_no_man
      assign sig_o = normal;
    end else begin : g_man
      assign sig_o = {normal, code_i[M-1:0]};
    end
    // Binade b = exp_code - 1 shifts the mantissa left by b.
    assign shift_o = normal ? SHW'(exp_code - 1'b1) : '0;
  end
endmodule
