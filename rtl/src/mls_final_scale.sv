// Final scale (docs/architecture.md): out * F for each column, F =
// fp32(S_t^X S_t^Y u_X u_Y), one IEEE fp32 multiply rounded to nearest even
// (the array registers it: the output write).
//
// MLS_FAULT_FINAL_ROUNDING (fault injection for the array test's own test)
// truncates instead: where the multiplier rounded a normal result up, one
// unit in the last place is taken back. The trees and output accumulators
// seldom round at all (their operands have few significant bits), the final
// multiply by F nearly always does, so this is the rounding a test can see.
module mls_final_scale #(
  parameter int unsigned COLS = 8
) (
  input  logic [COLS*32-1:0] out_i,
  input  logic [31:0]        factor_i,
  output logic [COLS*32-1:0] scaled_o
);
  for (genvar c = 0; c < COLS; c++) begin : g_col
    logic [31:0] rounded;
    fp_mul #(.EW(8), .MW(23)) u_mul (.a_i(out_i[c*32 +: 32]), .b_i(factor_i), .y_o(rounded));
`ifdef MLS_FAULT_FINAL_ROUNDING
    // The significands' exact product of two normal operands: its bits below
    // the 24 kept ones decide whether the multiplier rounded up.
    /* verilator lint_off UNUSEDSIGNAL */  // only the rounding bits matter
    logic [47:0] p;
    /* verilator lint_on UNUSEDSIGNAL */
    logic        normal, up;
    assign p      = {1'b1, out_i[c*32 +: 23]} * {1'b1, factor_i[22:0]};
    assign normal = out_i[c*32+23 +: 8] != 8'h00 && factor_i[30:23] != 8'h00 && rounded[30:23] != 8'h00
                    && rounded[30:23] != 8'hff;
    assign up     = p[47] ? (p[23] && (p[22:0] != '0 || p[24])) : (p[22] && (p[21:0] != '0 || p[23]));
    assign scaled_o[c*32 +: 32] = (normal && up) ? rounded - 32'd1 : rounded;
`else
    assign scaled_o[c*32 +: 32] = rounded;
`endif
  end
endmodule
