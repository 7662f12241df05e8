// Final scale (docs/architecture.md): out * F for each column, F =
// fp32(S_t^X S_t^Y u_X u_Y), one IEEE fp32 multiply rounded to nearest even,
// (the array registers it: the output write).
module mls_final_scale #(
  parameter int unsigned COLS = 8
) (
  input  logic [COLS*32-1:0] out_i,
  input  logic [31:0]        factor_i,
  output logic [COLS*32-1:0] scaled_o
);
  for (genvar c = 0; c < COLS; c++) begin : g_col
    fp32_mul u_mul (.a_i(out_i[c*32 +: 32]), .b_i(factor_i), .y_o(scaled_o[c*32 +: 32]));
  end
endmodule
