// Processing element: element multiplier and local accumulator. One product
// per cycle when valid_i; first_i starts a new chunk (the accumulator restarts
// from 0). After each addition a sum outside [-2^(ACC_BITS-1), 2^(ACC_BITS-1)-1]
// raises ovf_o for that addition and becomes the nearest bound (WRAP = 0,
// saturate) or its low ACC_BITS bits (WRAP = 1). acc_o and ovf_o are registered:
// they show the addition of the previous cycle.
//
// PROD_REG = 1 puts a register between the multiplier and the accumulator
// (the array's separate multiplier stage, docs/architecture.md "The pipeline"):
// valid_i, first_i and the codes of cycle t then reach the accumulator at t+1,
// and acc_o shows the addition one cycle later than with PROD_REG = 0.
module mls_pe #(
  parameter int unsigned EX       = 2,
  parameter int unsigned MX       = 4,
  parameter int unsigned EY       = 2,
  parameter int unsigned MY       = 4,
  parameter int unsigned ACC_BITS = 16,  // 8..62
  parameter int unsigned WRAP     = 0,   // 0: saturate, 1: wrap
  parameter int unsigned PROD_REG = 0    // 1: register the product first
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  input  logic                       valid_i,
  input  logic                       first_i,
  input  logic [EX+MX:0]             x_code_i,
  input  logic [EY+MY:0]             y_code_i,
  output logic signed [ACC_BITS-1:0] acc_o,
  output logic                       ovf_o
);
  localparam int unsigned SX = (EX == 0) ? 0 : (2 ** EX) - 2;
  localparam int unsigned SY = (EY == 0) ? 0 : (2 ** EY) - 2;
  localparam int unsigned PW = (MX + 1) + (MY + 1) + SX + SY;
  // The exact sum of the accumulator and one product, whatever their widths.
  localparam int unsigned SUMW = ((ACC_BITS > PW + 1) ? ACC_BITS : PW + 1) + 1;

  logic signed [PW:0]           prod, prod_m;
  logic                         valid_m, first_m;  // as seen by the accumulator
  logic signed [SUMW-1:0]       sum;
  logic signed [ACC_BITS-1:0]   acc_d;
  logic                         ovf_d;
  logic signed [ACC_BITS-1:0]   acc_q;
  logic                         ovf_q;

  mls_elem_mul #(.EX(EX), .MX(MX), .EY(EY), .MY(MY)) u_mul (
    .x_code_i(x_code_i), .y_code_i(y_code_i), .prod_o(prod)
  );

  if (PROD_REG != 0) begin : g_prod_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        prod_m  <= '0;
        valid_m <= 1'b0;
        first_m <= 1'b0;
      end else begin
        prod_m  <= prod;
        valid_m <= valid_i;
        first_m <= first_i;
      end
    end
  end else begin : g_prod_comb
    assign prod_m  = prod;
    assign valid_m = valid_i;
    assign first_m = first_i;
  end

  always_comb begin
    sum = (first_m ? '0 : SUMW'(acc_q)) + SUMW'(prod_m);
    // In range iff every bit above the accumulator's sign bit equals it.
    ovf_d = (sum[SUMW-1:ACC_BITS-1] != '0) && (sum[SUMW-1:ACC_BITS-1] != '1);
    if (!ovf_d || WRAP != 0) begin
      acc_d = sum[ACC_BITS-1:0];
    end else if (sum[SUMW-1]) begin
      acc_d = {1'b1, {(ACC_BITS-1){1'b0}}};  // -2^(ACC_BITS-1)
    end else begin
      acc_d = {1'b0, {(ACC_BITS-1){1'b1}}};  // 2^(ACC_BITS-1) - 1
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      acc_q <= '0;
      ovf_q <= 1'b0;
    end else begin
      ovf_q <= valid_m && ovf_d;
      if (valid_m) acc_q <= acc_d;
    end
  end

  assign acc_o = acc_q;
  assign ovf_o = ovf_q;
endmodule
