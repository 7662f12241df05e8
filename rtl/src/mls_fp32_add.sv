// fp32 adder, IEEE 754 binary32, round to nearest even, subnormal inputs and
// outputs (no flush to zero). Combinational. x + (-x) is +0; -0 + -0 is -0.
// Overflow gives infinity; an infinity in gives infinity; NaN, or the sum of
// opposite infinities, gives the canonical quiet NaN 0x7fc00000 (the MLS
// datapath never produces either).
module mls_fp32_add (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] sum_o
);
  // The larger magnitude is "big"; significands carry 3 extra low bits
  // (guard, round, sticky), enough for one correct RNE rounding.
  logic        big_sign, small_sign;
  logic [7:0]  big_exp_f, small_exp_f;
  logic [23:0] big_sig, small_sig;
  logic [9:0]  big_exp, small_exp, exp;
  logic [9:0]  diff;
  logic [26:0] a_ext, b_ext, b_mask;
  logic [27:0] s;
  logic [4:0]  lz, lshift;
  logic        guard, sticky, round_up;
  logic [24:0] r;
  logic [31:0] bits;
  logic        a_nan, b_nan, a_inf, b_inf;

  always_comb begin
    a_nan = (a_i[30:23] == 8'hff) && (a_i[22:0] != '0);
    b_nan = (b_i[30:23] == 8'hff) && (b_i[22:0] != '0);
    a_inf = (a_i[30:23] == 8'hff) && (a_i[22:0] == '0);
    b_inf = (b_i[30:23] == 8'hff) && (b_i[22:0] == '0);

    if (a_i[30:0] >= b_i[30:0]) begin
      {big_sign, big_exp_f}     = {a_i[31], a_i[30:23]};
      {small_sign, small_exp_f} = {b_i[31], b_i[30:23]};
      big_sig   = {a_i[30:23] != '0, a_i[22:0]};
      small_sig = {b_i[30:23] != '0, b_i[22:0]};
    end else begin
      {big_sign, big_exp_f}     = {b_i[31], b_i[30:23]};
      {small_sign, small_exp_f} = {a_i[31], a_i[30:23]};
      big_sig   = {b_i[30:23] != '0, b_i[22:0]};
      small_sig = {a_i[30:23] != '0, a_i[22:0]};
    end
    // A subnormal has the exponent of the smallest normal, without hidden bit.
    big_exp   = (big_exp_f == '0) ? 10'd1 : {2'b0, big_exp_f};
    small_exp = (small_exp_f == '0) ? 10'd1 : {2'b0, small_exp_f};
    diff      = big_exp - small_exp;

    // Align: bits shifted out of the smaller operand collapse into its sticky LSB.
    a_ext  = {big_sig, 3'b0};
    b_mask = '0;
    if (diff >= 10'd27) begin
      b_ext = {26'b0, small_sig != '0};
    end else begin
      b_mask = (27'(1) << diff[4:0]) - 1'b1;
      b_ext  = ({small_sig, 3'b0} >> diff[4:0]) | 27'(({small_sig, 3'b0} & b_mask) != '0);
    end

    s   = (big_sign == small_sign) ? {1'b0, a_ext} + {1'b0, b_ext} : {1'b0, a_ext} - {1'b0, b_ext};
    exp = big_exp;
    lz  = '0;
    lshift = '0;
    if (s[27]) begin
      // Carry out: one right shift, keeping the shifted-out bit sticky.
      s   = {1'b0, s[27:2], s[1] | s[0]};
      exp = exp + 1'b1;
    end else begin
      // Cancellation: normalise left, but not below the subnormal exponent 1.
      lz = 5'd27;
      for (int i = 0; i < 27; i++) begin
        if (s[i]) lz = 5'(26 - i);
      end
      lshift = (10'(lz) < exp - 1'b1) ? lz : 5'(exp - 1'b1);
      s      = s << lshift;
      exp    = exp - 10'(lshift);
    end

    guard    = s[2];
    sticky   = s[1] | s[0];
`ifdef MLS_FAULT_ADD_ROUNDING
    // Fault injection for the array test's own test: ties round to odd.
    round_up = guard && (sticky || !s[3]);
`else
    round_up = guard && (sticky || s[3]);
`endif
    r        = {1'b0, s[26:3]} + 25'(round_up);
    // (exp - 1) << 23 plus r encodes normals, a rounding carry into the next
    // binade and subnormals (exp = 1, r < 2^23) alike.
    bits     = (({22'b0, exp} - 32'd1) << 23) + 32'(r);

    if (a_nan || b_nan || (a_inf && b_inf && (a_i[31] != b_i[31]))) begin
      sum_o = 32'h7fc0_0000;
    end else if (a_inf || b_inf) begin
      sum_o = a_inf ? a_i : b_i;
    end else if (s == '0) begin
      sum_o = {a_i[31] & b_i[31], 31'b0};
    end else if (bits[31:23] >= 9'd255) begin
      sum_o = {big_sign, 8'hff, 23'b0};
    end else begin
      sum_o = {big_sign, bits[30:0]};
    end
  end
endmodule
