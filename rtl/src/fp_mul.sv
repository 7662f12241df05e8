// fp_mul: the IEEE 754 multiplier of the baseline designs (docs/rtl.md#baselines),
// any binary format by its exponent and mantissa widths (EW = 8, MW = 23:
// fp32_mul, binary32; EW = 8, MW = 7: bf16_mul, bfloat16), round to nearest
// even, subnormal inputs and outputs (no flush to zero). Combinational: one
// (MW+1) x (MW+1)-bit significand product, leading- and trailing-one
// detection, one right shift that normalises and, for results below the
// smallest normal, denormalises, with one rounding.
// A zero operand gives a zero with the sign of the product; overflow gives
// infinity; infinity times a nonzero number gives infinity; a NaN in, or
// infinity times zero, gives the canonical quiet NaN (0x7fc00000 in binary32,
// 0x7fc0 in bfloat16).
module fp_mul #(
  parameter int unsigned EW = 8,                // exponent field
  parameter int unsigned MW = 23                // mantissa field
) (
  input  logic [EW+MW:0] a_i,
  input  logic [EW+MW:0] b_i,
  output logic [EW+MW:0] y_o
);
  localparam int unsigned W    = 1 + EW + MW;
  localparam int unsigned SW   = MW + 1;             // significand with the hidden bit
  localparam int unsigned PW   = 2 * SW;             // significand product
  localparam int unsigned XW   = 3 * SW;             // product with SW zero bits below
  localparam int unsigned BIAS = (1 << (EW - 1)) - 1;
  localparam int unsigned DW   = EW + 3;             // signed exponent arithmetic
  localparam int unsigned PLW  = $clog2(PW);         // bit positions in the product
  localparam int unsigned VW   = $clog2(XW + 1);     // right shifts 0..XW

  logic          a_zero, b_zero, a_inf, b_inf, a_nan, b_nan, sign;
  logic [EW-1:0] a_exp, b_exp;
  logic [SW-1:0] a_sig, b_sig;
  logic [PW-1:0] p;
  logic [PLW-1:0] msb, tz;
  logic signed [DW-1:0] e0, sh, sh_norm, sh_floor, v, biased_m1;
  logic [XW-1:0] x;
  logic [SW:0]   y;
  logic          guard, sticky, round_up;
  logic [SW:0]   r;
  logic [W-1:0]  bits;

  always_comb begin
    a_zero = (a_i[W-2:0] == '0);
    b_zero = (b_i[W-2:0] == '0);
    a_inf  = (a_i[W-2:MW] == '1) && (a_i[MW-1:0] == '0);
    b_inf  = (b_i[W-2:MW] == '1) && (b_i[MW-1:0] == '0);
    a_nan  = (a_i[W-2:MW] == '1) && (a_i[MW-1:0] != '0);
    b_nan  = (b_i[W-2:MW] == '1) && (b_i[MW-1:0] != '0);
    sign   = a_i[W-1] ^ b_i[W-1];

    // Exact product of the significands (a subnormal has no hidden bit and the
    // exponent of the smallest normal). Its unit is 2^e0.
    a_sig = {a_i[W-2:MW] != '0, a_i[MW-1:0]};
    b_sig = {b_i[W-2:MW] != '0, b_i[MW-1:0]};
    p     = PW'(a_sig) * PW'(b_sig);
    a_exp = (a_i[W-2:MW] == '0) ? EW'(1) : a_i[W-2:MW];
    b_exp = (b_i[W-2:MW] == '0) ? EW'(1) : b_i[W-2:MW];
    e0    = DW'(a_exp) + DW'(b_exp) - DW'(2 * BIAS + 2 * MW);

    // Leading and lowest one of the product (0 when p = 0: a zero operand,
    // which the output selection below handles).
    msb = '0;
    for (int i = 0; i < PW; i++) begin
      if (p[i]) msb = PLW'(i);
    end
    tz = '0;
    for (int i = PW - 1; i >= 0; i--) begin
      if (p[i]) tz = PLW'(i);
    end

    // One rounding: the last kept bit is 2^(e0 + sh), sh = the shift that
    // leaves SW significant bits, but not below the subnormal unit
    // 2^(1 - BIAS - MW). sh >= -MW; a negative sh is an exact left shift.
    sh_norm  = DW'(msb) - DW'(MW);
    sh_floor = DW'(1) - DW'(BIAS) - DW'(MW) - e0;
    sh       = (sh_norm > sh_floor) ? sh_norm : sh_floor;

    // x = p * 2^SW, shifted right by sh + MW = sh + SW - 1: bit 0 of y is
    // the guard bit, bits SW..1 the kept significand. The bits below the
    // guard, p[sh-2:0], are nonzero (sticky) when p's lowest one is among
    // them: tz < sh - 1.
    x      = {p, SW'(0)};
    v      = sh + DW'(MW);
    y      = (v > $signed(DW'(XW))) ? '0 : (SW+1)'(x >> v[VW-1:0]);
    guard  = y[0];
    sticky = (sh - 1 > $signed(DW'(tz)));
    round_up = guard && (sticky || y[1]);
    r      = {1'b0, y[SW:1]} + (SW+1)'(round_up);

    // (biased exponent - 1) << MW plus r encodes normals, a rounding carry
    // into the next binade and subnormals (biased_m1 = 0, r < 2^MW) alike.
    biased_m1 = e0 + sh + DW'(BIAS + MW - 1);
    bits      = (W'(biased_m1) << MW) + W'(r);

    if (a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero)) begin
      y_o = {1'b0, {EW{1'b1}}, 1'b1, {(MW-1){1'b0}}};
    end else if (a_inf || b_inf) begin
      y_o = {sign, {EW{1'b1}}, {MW{1'b0}}};
    end else if (a_zero || b_zero) begin
      y_o = {sign, {(W-1){1'b0}}};
    end else if (bits[W-1:MW] >= (EW+1)'({EW{1'b1}})) begin
      y_o = {sign, {EW{1'b1}}, {MW{1'b0}}};
    end else begin
      y_o = {sign, bits[W-2:0]};
    end
  end
endmodule
