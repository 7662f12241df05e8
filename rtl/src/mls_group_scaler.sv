// Group scaler: fp32(P * S_g^X * S_g^Y) for a chunk sum P, rounded once to
// nearest even with gradual underflow (docs/reference.md, "Group scaler").
//
// A group-scale code is {neg_exp, man}: S_g = (1 + man/2^M_g) * 2^-neg_exp,
// neg_exp in [0, 2^E_g - 1]. The mantissa product is formed with shifts and
// adds on |P| (a small multiplier for M_g >= 2): N = |P| * (2^MGX + man_x) *
// (2^MGY + man_y), an integer of W bits
// whose unit is 2^E0, E0 = -(neg_exp_x + neg_exp_y) - MGX - MGY. One rounding
// then places N * 2^E0 in fp32: the kept bits end at 2^lsb,
// lsb = max(msb(N) + E0 - 23, -149), where -149 is the subnormal unit.
// The result can never overflow: |P| <= 2^61 and two factors below 2 keep it below 2^63.
module mls_group_scaler #(
  parameter int unsigned ACC_BITS = 16,
  parameter int unsigned EGX      = 8,
  parameter int unsigned MGX      = 1,  // 0..3 (run's group-scale formats), and more
  parameter int unsigned EGY      = 8,
  parameter int unsigned MGY      = 1,
  // Derived code widths (a scale format e0m0 still gets a 1-bit, unused port).
  parameter int unsigned CWX = (EGX + MGX == 0) ? 1 : EGX + MGX,
  parameter int unsigned CWY = (EGY + MGY == 0) ? 1 : EGY + MGY
) (
  input  logic signed [ACC_BITS-1:0] sum_i,
  input  logic [CWX-1:0]             sx_code_i,
  input  logic [CWY-1:0]             sy_code_i,
  output logic [31:0]                fp32_o
);
  // |P| <= 2^(ACC_BITS-1), and a factor 2^M + man with M > 0 is below 2^(M+1)
  // (M = 0: the factor is 1), so N < 2^(ACC_BITS-1+FX+FY): e.g. |P| * 3 * 3 < 2^(ACC_BITS+3).
  localparam int unsigned FX = (MGX == 0) ? 0 : MGX + 1;
  localparam int unsigned FY = (MGY == 0) ? 0 : MGY + 1;
  localparam int unsigned W  = (FX + FY == 0) ? ACC_BITS : ACC_BITS - 1 + FX + FY;
  localparam int unsigned MWX = (MGX == 0) ? 1 : MGX;  // a mantissa port of at least one bit
  localparam int unsigned MWY = (MGY == 0) ? 1 : MGY;
  localparam int unsigned LW = $clog2(W) + 1;  // bits of a bit position in N
  localparam int unsigned XW = 12;             // signed exponent arithmetic, |value| < 2^11
  localparam logic signed [XW-1:0] SUBNORMAL_LSB = -12'sd149;  // fp32's smallest unit, 2^-149

  logic [EGX:0] neg_exp_x;
  logic [EGY:0] neg_exp_y;
  logic [MWX-1:0] man_x;
  logic [MWY-1:0] man_y;

  if (EGX == 0) begin : g_x_no_exp
    assign neg_exp_x = '0;
  end else begin : g_x_exp
    assign neg_exp_x = {1'b0, sx_code_i[EGX+MGX-1:MGX]};
  end
  if (MGX == 0) begin : g_x_no_man
    assign man_x = '0;
  end else begin : g_x_man
    assign man_x = sx_code_i[MWX-1:0];
  end
  if (EGY == 0) begin : g_y_no_exp
    assign neg_exp_y = '0;
  end else begin : g_y_exp
    assign neg_exp_y = {1'b0, sy_code_i[EGY+MGY-1:MGY]};
  end
  if (MGY == 0) begin : g_y_no_man
    assign man_y = '0;
  end else begin : g_y_man
    assign man_y = sy_code_i[MWY-1:0];
  end

  logic                 sign;
  logic [ACC_BITS-1:0]  mag;
  logic [W-1:0]         mag_x, n;
  logic [LW-1:0]        msb;
  logic signed [XW-1:0] e0, rs;
  logic [LW:0]          rs_right;   // right shift, clamped to W + 1
  logic [4:0]           rs_left;    // left shift, at most 23
  /* verilator lint_off UNUSEDSIGNAL */
  logic [W-1:0]         kept;       // below 2^25 whenever it is used (rs > 0)
  /* verilator lint_on UNUSEDSIGNAL */
  logic                 guard, sticky, round_up;
  logic [24:0]          r;          // rounded significand, up to 2^24
  logic [7:0]           exp_field;  // lsb + 149
  logic [30:0]          bits;       // no sign: the value is below 2^65, far from fp32 overflow

  always_comb begin
    sign = sum_i[ACC_BITS-1];
    mag  = sign ? ACC_BITS'(-sum_i) : ACC_BITS'(sum_i);  // -2^(A-1) maps to 2^(A-1)

    // Mantissa product x (2^M + man): M_g = 1, the shift-add form (x << 1) + man * x;
    // M_g >= 2, the multiplier form (an (M_g + 1)-bit multiplier, as the model
    // prices it: docs/reference.md, "Group scaler").
    mag_x = W'(mag);
    if (MGX == 1) mag_x = (mag_x << 1) + (man_x[0] ? W'(mag) : '0);
    else if (MGX > 1) mag_x = W'(mag) * W'({1'b1, man_x});
    n = mag_x;
    if (MGY == 1) n = (n << 1) + (man_y[0] ? mag_x : '0);
    else if (MGY > 1) n = mag_x * W'({1'b1, man_y});

    e0 = XW'(0) - XW'(neg_exp_x) - XW'(neg_exp_y) - XW'(MGX) - XW'(MGY);

    msb = '0;
    for (int unsigned i = 0; i < W; i++) begin
      if (n[i]) msb = LW'(i);
    end

    // Right shift that puts the last kept bit at 2^lsb (negative: exact left shift).
    rs = XW'(msb) - XW'(23);
    if (SUBNORMAL_LSB - e0 > rs) rs = SUBNORMAL_LSB - e0;

    rs_right = '0;
    rs_left  = '0;
    if (rs > 0) begin
      rs_right = (rs > XW'(W + 1)) ? (LW+1)'(W + 1) : (LW+1)'(rs);
    end else begin
      rs_left = 5'(-rs);
    end

    kept   = n >> rs_right;
    guard  = (rs_right != 0) && ((n >> (rs_right - 1'b1)) & W'(1)) != '0;
    sticky = (rs_right > 1) && ((n & ((W'(1) << (rs_right - 1'b1)) - 1'b1)) != '0);
`ifdef MLS_FAULT_ROUNDING
    // Fault injection for the testbench's own test: ties round to odd.
    round_up = guard && (sticky || !kept[0]);
`else
    round_up = guard && (sticky || kept[0]);
`endif
    if (rs > 0) r = 25'(kept) + 25'(round_up);
    else        r = 25'(n) << rs_left;

    // (lsb + 149) << 23 plus r gives the fp32 encoding for normals (r in
    // [2^23, 2^24)), a carry into the next binade (r = 2^24) and subnormals
    // (lsb = -149, r < 2^23) alike.
    exp_field = 8'(e0 + rs + XW'(149));
    bits = {exp_field, 23'b0} + {6'b0, r};
    fp32_o = (n == '0) ? 32'h0 : {sign, bits};
  end
endmodule
