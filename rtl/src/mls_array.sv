// The whole MLS MAC array (docs/architecture.md, docs/rtl.md): the
// controller with the baseline loop nest, the operand buffers, ROWS x COLS
// processing elements with their group scalers, adder trees and output
// accumulators (one mls_column per column), and the final scale.
//
// The pipeline (docs/architecture.md, "The pipeline and where cycles come
// from"), for an issue at edge t:
//   t       controller: registered issue (mls_array_ctrl)
//   t+1     operand buffers: codes and group-scale codes (mls_operand_buf)
//   t+2     multipliers: products (mls_pe's product register)
//   t+3     local accumulators; at a tile's last step they hold the chunk sums
//   t+4     group scalers (captured while the next tile's products go on)
//   t+4+S   adder trees, S = ceil(log2 ROWS) registers (ROWS >= 2)
//   t+5+S   output accumulators
//   t+6+S   final scale: out_valid_o, the output write
// so a pass of N issue cycles takes N + 6 + S cycles from the first issue
// edge to the last write edge, inclusive. done_o marks the last write.
module mls_array #(
  parameter int unsigned ROWS     = 4,
  parameter int unsigned COLS     = 8,
  parameter int unsigned EX       = 2,
  parameter int unsigned MX       = 4,
  parameter int unsigned EY       = 2,
  parameter int unsigned MY       = 4,
  parameter int unsigned EGX      = 8,
  parameter int unsigned MGX      = 1,
  parameter int unsigned EGY      = 8,
  parameter int unsigned MGY      = 1,
  parameter int unsigned ACC_BITS = 16,
  parameter int unsigned WRAP     = 0,
  parameter int unsigned NW       = 24,
  parameter int unsigned XAW      = 16,  // address bits of each column's X bank
  parameter int unsigned YAW      = 20,
  parameter int unsigned XSAW     = 14,
  parameter int unsigned YSAW     = 16,
  // Derived widths.
  parameter int unsigned XB  = 1 + EX + MX,
  parameter int unsigned YB  = 1 + EY + MY,
  parameter int unsigned CWX = (EGX + MGX == 0) ? 1 : EGX + MGX,
  parameter int unsigned CWY = (EGY + MGY == 0) ? 1 : EGY + MGY,
  parameter int unsigned BW  = (COLS > 1) ? $clog2(COLS) : 1
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  // Operand load (before start_i): see mls_operand_buf.
  input  logic                 load_i,
  input  logic [1:0]           load_sel_i,
  input  logic [BW-1:0]        load_bank_i,
  input  logic [31:0]          load_addr_i,
  input  logic [15:0]          load_data_i,
  // The pass.
  input  logic [NW-1:0]        m_i,
  input  logic [NW-1:0]        m_tiles_i,
  input  logic [NW-1:0]        p_i,
  input  logic [NW-1:0]        g_i,
  input  logic [NW-1:0]        k_i,
  input  logic [NW-1:0]        gk_i,
  input  logic [NW-1:0]        chunk_i,
  input  logic [NW-1:0]        cpg_i,
  input  logic [NW-1:0]        last_len_i,
  input  logic [NW-1:0]        tiles_i,
  input  logic [31:0]          factor_i,  // F, fp32
  input  logic                 start_i,
  output logic                 issue_o,   // the controller issues this cycle
  output logic                 tile_o,    // a chunk tile leaves the adder trees this cycle
  // Finished outputs: row mt*COLS + c, position p, for each c in out_mask_o.
  output logic                 out_valid_o,
  output logic [NW-1:0]        out_mt_o,
  output logic [NW-1:0]        out_p_o,
  output logic [COLS-1:0]      out_mask_o,
  output logic [COLS*32-1:0]   out_acc_o,  // the output accumulators (before F)
  output logic [COLS*32-1:0]   out_o,      // out * F
  output logic                 done_o
);
  localparam int unsigned S = (ROWS > 1) ? $clog2(ROWS) : 0;
  // The tags that travel from the issue to the capture: step_last, out_first,
  // out_last, pass_last, slot[ROWS], mt, p.
  localparam int unsigned TW = 4 + ROWS + 2 * NW;
  // From the capture to the output accumulators: pass_last, col_act, mt, p.
  localparam int unsigned OW = 1 + COLS + 2 * NW;

  // Edge t: the issue.
  logic                  c_valid, c_out_first, c_out_last, c_step_last, c_pass_last;
  logic [NW-1:0]         c_mt, c_p;
  logic [ROWS-1:0]       c_act, c_first, c_slot;
  logic [ROWS*NW-1:0]    c_group, c_offset;
  logic [NW-1:0]         c_x_base, c_xs_base, c_y_base, c_ys_base, c_m_left;

  mls_array_ctrl #(.ROWS(ROWS), .COLS(COLS), .NW(NW)) u_ctrl (
    .clk_i, .rst_ni, .start_i,
    .m_i, .m_tiles_i, .p_i, .g_i, .k_i, .gk_i, .chunk_i, .cpg_i, .last_len_i, .tiles_i,
    .valid_o(c_valid), .mt_o(c_mt), .p_o(c_p), .out_first_o(c_out_first), .out_last_o(c_out_last),
    .step_last_o(c_step_last), .pass_last_o(c_pass_last),
    .act_o(c_act), .first_o(c_first), .slot_o(c_slot), .group_o(c_group), .offset_o(c_offset),
    .x_base_o(c_x_base), .xs_base_o(c_xs_base), .y_base_o(c_y_base), .ys_base_o(c_ys_base), .m_left_o(c_m_left)
  );
  assign issue_o = c_valid;

  // Edge t+1: the codes, and the issue's flags beside them.
  logic [ROWS*COLS*XB-1:0]  b_x;
  logic [ROWS*YB-1:0]       b_y;
  logic [ROWS*COLS*CWX-1:0] b_sx;
  logic [ROWS*CWY-1:0]      b_sy;
  logic [COLS-1:0]          b_col_act;
  logic [ROWS-1:0]          b_act, b_first;

  mls_operand_buf #(
    .ROWS(ROWS), .COLS(COLS), .NW(NW), .XB(XB), .YB(YB), .CWX(CWX), .CWY(CWY),
    .XAW(XAW), .YAW(YAW), .XSAW(XSAW), .YSAW(YSAW)
  ) u_buf (
    .clk_i, .rst_ni, .load_i, .load_sel_i, .load_bank_i, .load_addr_i, .load_data_i,
    .group_i(c_group), .offset_i(c_offset), .x_base_i(c_x_base), .xs_base_i(c_xs_base),
    .y_base_i(c_y_base), .ys_base_i(c_ys_base), .m_left_i(c_m_left),
    .x_code_o(b_x), .y_code_o(b_y), .sx_code_o(b_sx), .sy_code_o(b_sy), .col_act_o(b_col_act)
  );
  mls_pipe #(.W(2 * ROWS), .DEPTH(1)) u_pipe_act (
    .clk_i, .rst_ni, .d_i({c_act, c_first}), .q_o({b_act, b_first})
  );

  // Edge t+3 (the capture cycle follows it): the tags, scale codes and
  // active columns of the step whose sums the accumulators now hold.
  logic                     a_step_last, a_out_first, a_out_last, a_pass_last;
  logic [ROWS-1:0]          a_slot;
  logic [NW-1:0]            a_mt, a_p;
  logic [ROWS*COLS*CWX-1:0] a_sx;
  logic [ROWS*CWY-1:0]      a_sy;
  logic [COLS-1:0]          a_col_act;

  mls_pipe #(.W(TW), .DEPTH(3)) u_pipe_tag (
    .clk_i, .rst_ni,
    .d_i({c_valid && c_step_last, c_out_first, c_out_last, c_pass_last, c_slot, c_mt, c_p}),
    .q_o({a_step_last, a_out_first, a_out_last, a_pass_last, a_slot, a_mt, a_p})
  );
  mls_pipe #(.W(ROWS*COLS*CWX + ROWS*CWY + COLS), .DEPTH(2)) u_pipe_scale (
    .clk_i, .rst_ni, .d_i({b_sx, b_sy, b_col_act}), .q_o({a_sx, a_sy, a_col_act})
  );

  // The columns: PEs (edges t+2, t+3), scalers, tree and output accumulator.
  // Every column finishes a tile and an output in the same cycle: column 0's
  // flags are used.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [COLS-1:0]    col_done, col_tile;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [COLS*32-1:0] col_acc;
  for (genvar c = 0; c < COLS; c++) begin : g_col
    logic [ROWS*XB-1:0]  x_col;
    logic [ROWS*CWX-1:0] sx_col;
    for (genvar r = 0; r < ROWS; r++) begin : g_row
      assign x_col[r*XB +: XB]    = b_x[(r*COLS + c)*XB +: XB];
      assign sx_col[r*CWX +: CWX] = a_sx[(r*COLS + c)*CWX +: CWX];
    end
    /* verilator lint_off PINCONNECTEMPTY */
    mls_column #(
      .EX(EX), .MX(MX), .EY(EY), .MY(MY), .EGX(EGX), .MGX(MGX), .EGY(EGY), .MGY(MGY),
      .ACC_BITS(ACC_BITS), .WRAP(WRAP), .ROWS(ROWS), .PROD_REG(1)
    ) u_col (
      .clk_i, .rst_ni,
      .row_valid_i(b_act), .row_first_i(b_first), .x_code_i(x_col), .y_code_i(b_y),
      .cap_i(a_step_last), .cap_first_i(a_out_first), .cap_last_i(a_out_last),
      .cap_slot_valid_i(a_slot), .sx_code_i(sx_col), .sy_code_i(a_sy),
      .pe_acc_o(), .pe_ovf_o(), .scaled_valid_o(), .scaled_slot_valid_o(), .scaled_o(),
      .tree_valid_o(col_tile[c]), .tree_o(),
      .out_valid_o(col_done[c]), .out_acc_o(col_acc[c*32 +: 32])
    );
    /* verilator lint_on PINCONNECTEMPTY */
  end

  assign tile_o = col_tile[0];

  // Edge t+5+S: the output's tags, delayed from the capture.
  logic            o_pass_last;
  logic [COLS-1:0] o_col_act;
  logic [NW-1:0]   o_mt, o_p;
  mls_pipe #(.W(OW), .DEPTH(S + 2)) u_pipe_out (
    .clk_i, .rst_ni, .d_i({a_pass_last, a_col_act, a_mt, a_p}), .q_o({o_pass_last, o_col_act, o_mt, o_p})
  );

  // Edge t+6+S: the final scale and the write.
  logic [COLS*32-1:0] scaled;
  mls_final_scale #(.COLS(COLS)) u_final (.out_i(col_acc), .factor_i(factor_i), .scaled_o(scaled));

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      {out_valid_o, out_mt_o, out_p_o, out_mask_o, out_acc_o, out_o, done_o} <= '0;
    end else begin
      out_valid_o <= col_done[0];
      done_o      <= col_done[0] && o_pass_last;
      if (col_done[0]) begin
        out_mt_o   <= o_mt;
        out_p_o    <= o_p;
        out_mask_o <= o_col_act;
        out_acc_o  <= col_acc;
        out_o      <= scaled;
      end
    end
  end
endmodule
