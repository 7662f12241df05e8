// Output accumulator: an fp32 register that adds successive tree results of
// one output in order, starting from +0 (so a first result of -0 gives +0, as
// +0 + -0 does). done_o marks the cycle after the output's last tile.
module mls_out_acc (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        valid_i,
  input  logic        first_i,  // the output's first tile: start from +0
  input  logic        last_i,   // the output's last tile
  input  logic [31:0] tile_i,
  output logic        done_o,
  output logic [31:0] acc_o
);
  logic [31:0] acc_q, sum;
  logic        done_q;

  mls_fp32_add u_add (.a_i(first_i ? 32'h0 : acc_q), .b_i(tile_i), .sum_o(sum));

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      acc_q  <= '0;
      done_q <= 1'b0;
    end else begin
      done_q <= valid_i && last_i;
      if (valid_i) acc_q <= sum;
    end
  end

  assign acc_o  = acc_q;
  assign done_o = done_q;
endmodule
