// A delay line: d_i comes out DEPTH cycles later (DEPTH = 0: a wire).
module mls_pipe #(
  parameter int unsigned W     = 1,
  parameter int unsigned DEPTH = 1
) (
  input  logic         clk_i,
  input  logic         rst_ni,
  input  logic [W-1:0] d_i,
  output logic [W-1:0] q_o
);
  if (DEPTH == 0) begin : g_wire
    assign q_o = d_i;
  end else if (DEPTH == 1) begin : g_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) q_o <= '0;
      else q_o <= d_i;
    end
  end else begin : g_regs
    logic [DEPTH*W-1:0] q;  // stage i at [i*W +: W], the newest at 0
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) q <= '0;
      else q <= {q[(DEPTH-1)*W-1:0], d_i};
    end
    assign q_o = q[(DEPTH-1)*W +: W];
  end
endmodule
