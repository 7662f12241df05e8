// fp_add: the IEEE 754 adder of the baseline designs (docs/rtl.md#baselines),
// any binary format by its exponent and mantissa widths (EW = 8, MW = 23:
// fp32_add, binary32; EW = 5, MW = 10: fp16_add, binary16), round to nearest
// even, subnormal inputs and outputs (no flush to zero). Combinational. The
// twin of mls_fp32_add (the MLS array's adder): the same alignment,
// normalisation and rounding, so a baseline add and an MLS tree add are the
// same circuit (at EW = 8, MW = 23 it synthesizes to as many cells as
// mls_fp32_add). x + (-x) is +0; -0 + -0 is -0. Overflow gives infinity; an
// infinity in gives infinity; a NaN in, or the sum of opposite infinities,
// gives the canonical quiet NaN (0x7fc00000 in binary32, 0x7e00 in binary16).
module fp_add #(
  parameter int unsigned EW = 8,                // exponent field
  parameter int unsigned MW = 23                // mantissa field
) (
  input  logic [EW+MW:0] a_i,
  input  logic [EW+MW:0] b_i,
  output logic [EW+MW:0] y_o
);
  localparam int unsigned W  = 1 + EW + MW;
  localparam int unsigned SW = MW + 1;          // significand with the hidden bit
  localparam int unsigned XW = SW + 3;          // plus guard, round and sticky bits
  localparam int unsigned DW = EW + 2;          // exponent arithmetic, room for a carry
  localparam int unsigned LW = $clog2(XW + 1);  // shift amounts 0..XW

  // The larger magnitude is "big"; significands carry 3 extra low bits
  // (guard, round, sticky), enough for one correct RNE rounding.
  logic          big_sign, small_sign;
  logic [EW-1:0] big_exp_f, small_exp_f;
  logic [SW-1:0] big_sig, small_sig;
  logic [DW-1:0] big_exp, small_exp, exp;
  logic [DW-1:0] diff;
  logic [XW-1:0] a_ext, b_ext, b_mask;
  logic [XW:0]   s;
  logic [LW-1:0] lz, lshift;
  logic          guard, sticky, round_up;
  logic [SW:0]   r;
  logic [W-1:0]  bits;
  logic          a_nan, b_nan, a_inf, b_inf;

  always_comb begin
    a_nan = (a_i[W-2:MW] == '1) && (a_i[MW-1:0] != '0);
    b_nan = (b_i[W-2:MW] == '1) && (b_i[MW-1:0] != '0);
    a_inf = (a_i[W-2:MW] == '1) && (a_i[MW-1:0] == '0);
    b_inf = (b_i[W-2:MW] == '1) && (b_i[MW-1:0] == '0);

    if (a_i[W-2:0] >= b_i[W-2:0]) begin
      {big_sign, big_exp_f}     = {a_i[W-1], a_i[W-2:MW]};
      {small_sign, small_exp_f} = {b_i[W-1], b_i[W-2:MW]};
      big_sig   = {a_i[W-2:MW] != '0, a_i[MW-1:0]};
      small_sig = {b_i[W-2:MW] != '0, b_i[MW-1:0]};
    end else begin
      {big_sign, big_exp_f}     = {b_i[W-1], b_i[W-2:MW]};
      {small_sign, small_exp_f} = {a_i[W-1], a_i[W-2:MW]};
      big_sig   = {b_i[W-2:MW] != '0, b_i[MW-1:0]};
      small_sig = {a_i[W-2:MW] != '0, a_i[MW-1:0]};
    end
    // A subnormal has the exponent of the smallest normal, without hidden bit.
    big_exp   = (big_exp_f == '0) ? DW'(1) : DW'(big_exp_f);
    small_exp = (small_exp_f == '0) ? DW'(1) : DW'(small_exp_f);
    diff      = big_exp - small_exp;

    // Align: bits shifted out of the smaller operand collapse into its sticky LSB.
    a_ext  = {big_sig, 3'b0};
    b_mask = '0;
    if (diff >= DW'(XW)) begin
      b_ext = XW'(small_sig != '0);
    end else begin
      b_mask = (XW'(1) << diff[LW-1:0]) - 1'b1;
      b_ext  = ({small_sig, 3'b0} >> diff[LW-1:0]) | XW'(({small_sig, 3'b0} & b_mask) != '0);
    end

    s   = (big_sign == small_sign) ? {1'b0, a_ext} + {1'b0, b_ext} : {1'b0, a_ext} - {1'b0, b_ext};
    exp = big_exp;
    lz  = '0;
    lshift = '0;
    if (s[XW]) begin
      // Carry out: one right shift, keeping the shifted-out bit sticky.
      s   = {1'b0, s[XW:2], s[1] | s[0]};
      exp = exp + 1'b1;
    end else begin
      // Cancellation: normalise left, but not below the subnormal exponent 1.
      lz = LW'(XW);
      for (int i = 0; i < XW; i++) begin
        if (s[i]) lz = LW'(XW - 1 - i);
      end
      lshift = (DW'(lz) < exp - 1'b1) ? lz : LW'(exp - 1'b1);
      s      = s << lshift;
      exp    = exp - DW'(lshift);
    end

    guard    = s[2];
    sticky   = s[1] | s[0];
    round_up = guard && (sticky || s[3]);
    r        = {1'b0, s[XW-1:3]} + (SW+1)'(round_up);
    // (exp - 1) << MW plus r encodes normals, a rounding carry into the next
    // binade and subnormals (exp = 1, r < 2^MW) alike.
    bits     = ((W'(exp) - 1'b1) << MW) + W'(r);

    if (a_nan || b_nan || (a_inf && b_inf && (a_i[W-1] != b_i[W-1]))) begin
      y_o = {1'b0, {EW{1'b1}}, 1'b1, {(MW-1){1'b0}}};
    end else if (a_inf || b_inf) begin
      y_o = a_inf ? a_i : b_i;
    end else if (s == '0) begin
      y_o = {a_i[W-1] & b_i[W-1], {(W-1){1'b0}}};
    end else if (bits[W-1:MW] >= (EW+1)'({EW{1'b1}})) begin
      y_o = {big_sign, {EW{1'b1}}, {MW{1'b0}}};
    end else begin
      y_o = {big_sign, bits[W-2:0]};
    end
  end
endmodule
