// Element multiplier: the exact signed product sX*qX * sY*qY of two element
// codes, as one (M_x+1) x (M_y+1)-bit unsigned multiply of the mantissas
// followed by one left shift by the sum of the two binades, then a negation
// when the signs differ. Combinational.
module mls_elem_mul #(
  parameter int unsigned EX = 2,
  parameter int unsigned MX = 4,
  parameter int unsigned EY = 2,
  parameter int unsigned MY = 4,
  // Derived: largest shift of each operand and the product's magnitude width.
  parameter int unsigned SX = (EX == 0) ? 0 : (2 ** EX) - 2,
  parameter int unsigned SY = (EY == 0) ? 0 : (2 ** EY) - 2,
  parameter int unsigned PW = (MX + 1) + (MY + 1) + SX + SY
) (
  input  logic [EX+MX:0]      x_code_i,
  input  logic [EY+MY:0]      y_code_i,
  output logic signed [PW:0]  prod_o  // PW magnitude bits plus sign
);
  localparam int unsigned SHWX = (EX == 0) ? 1 : EX;
  localparam int unsigned SHWY = (EY == 0) ? 1 : EY;
  // The sum of two shifts needs one bit more than the wider of them.
  localparam int unsigned SHW  = ((SHWX > SHWY) ? SHWX : SHWY) + 1;

  logic            x_sign, y_sign;
  logic [MX:0]     x_sig;
  logic [MY:0]     y_sig;
  logic [SHWX-1:0] x_shift;
  logic [SHWY-1:0] y_shift;

  mls_elem_decode #(.E(EX), .M(MX)) u_dec_x (
    .code_i(x_code_i), .sign_o(x_sign), .sig_o(x_sig), .shift_o(x_shift)
  );
  mls_elem_decode #(.E(EY), .M(MY)) u_dec_y (
    .code_i(y_code_i), .sign_o(y_sign), .sig_o(y_sig), .shift_o(y_shift)
  );

  logic [MX+MY+1:0] sig_prod;
  logic [SHW-1:0]   shift;
  logic [PW-1:0]    mag;

  always_comb begin
    sig_prod = {{(MY+1){1'b0}}, x_sig} * {{(MX+1){1'b0}}, y_sig};
    shift    = SHW'(x_shift) + SHW'(y_shift);
    mag      = PW'(sig_prod) << shift;
    prod_o   = (x_sign ^ y_sign) ? -$signed({1'b0, mag}) : $signed({1'b0, mag});
  end
endmodule
