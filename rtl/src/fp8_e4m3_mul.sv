// fp8_e4m3_mul: the e4m3 multiplier of the fp8 baseline designs
// (docs/rtl.md#baselines). Operands are OCP FP8 E4M3: bias 7, subnormals
// (exponent field 0: m/8 * 2^-6), no infinities, S.1111.111 is NaN, largest
// magnitude 448. The product is exact and leaves as an fp32 bit pattern (OUT =
// 32, the default): two 4-bit significands give at most 8 significant bits and
// the product's magnitude lies in [2^-18, 448^2], inside fp32's normal range,
// so no rounding is needed or done; the fp8 designs add these products in fp32
// (or fp16) adders. OUT = 16 gives the same exact product as bfloat16 (fp32's
// upper half: 7 mantissa bits suffice); any other OUT is an elaboration error.
// Combinational: one 4 x 4-bit multiply, a leading-one detector and a left
// shift of the 8-bit product into the mantissa. A zero operand gives a zero
// with the sign of the product; a NaN in gives the canonical quiet NaN
// (0x7fc00000; as bfloat16 0x7fc0).
module fp8_e4m3_mul #(
  parameter int unsigned OUT = 32
) (
  input  logic [7:0]     a_i,
  input  logic [7:0]     b_i,
  output logic [OUT-1:0] y_o
);
  localparam int unsigned BIAS = 7;
  localparam int unsigned MW   = 3;

  logic       a_nan, b_nan, sign;
  logic [3:0] a_exp, b_exp;
  logic [3:0] a_sig, b_sig;
  logic [7:0] p;
  logic [2:0] msb;
  logic [7:0] exp_f;    // fp32 exponent field of the product
  logic [22:0] man;
  logic [31:0] y32;     // the product as fp32

  always_comb begin
    a_nan = (a_i[6:0] == 7'h7f);
    b_nan = (b_i[6:0] == 7'h7f);
    sign  = a_i[7] ^ b_i[7];

    // A subnormal has no hidden bit and the exponent of the smallest normal.
    a_sig = {a_i[6:3] != '0, a_i[2:0]};
    b_sig = {b_i[6:3] != '0, b_i[2:0]};
    a_exp = (a_i[6:3] == '0) ? 4'd1 : a_i[6:3];
    b_exp = (b_i[6:3] == '0) ? 4'd1 : b_i[6:3];
    p     = 8'(a_sig) * 8'(b_sig);

    // p * 2^(a_exp + b_exp - 2 * (BIAS + MW)); its leading one at bit msb
    // gives the fp32 exponent a_exp + b_exp - 20 + msb + 127 (in 108..144).
    msb = '0;
    for (int i = 0; i < 8; i++) begin
      if (p[i]) msb = 3'(i);
    end
    exp_f = 8'(a_exp) + 8'(b_exp) + 8'(msb) + 8'(127 - 2 * (BIAS + MW));
    // The bits below the leading one, left-aligned into the 23-bit mantissa.
    man   = {p[6:0], 16'b0} << (3'd7 - msb);

    if (a_nan || b_nan) begin
      y32 = 32'h7fc0_0000;
    end else if (p == '0) begin
      y32 = {sign, 31'b0};
    end else begin
      y32 = {sign, exp_f, man};
    end
  end

  if (OUT == 32) begin : g_fp32
    assign y_o = y32;
  end else if (OUT == 16) begin : g_bf16
    logic unused_low;  // always zero: the product has at most 7 mantissa bits
    assign unused_low = ^y32[15:0];
    assign y_o = y32[31:16];
  end else begin : g_bad_out
    $error("fp8_e4m3_mul: OUT must be 32 (fp32) or 16 (bfloat16)");
  end
endmodule
