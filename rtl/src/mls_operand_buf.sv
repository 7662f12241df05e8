// Operand buffers of the MAC array (docs/architecture.md, "What the buffers
// hold"): X's element codes and group-scale codes for every (m, g, k), Y's for
// every (p, g, k), loaded whole before the pass (the host's DMA step, here a
// write port), read one cycle after the issue (edge t+1 of the pipeline
// table) and registered.
//
// X is banked by column: output row m = mt*COLS + c lives in bank c, its G*K
// codes (group-major) from mt*G*K, its G scale codes from mt*G. Y is one
// memory: row p from p*G*K, scales from p*G. The controller supplies those
// bases, so the addresses are additions only. Each cycle PE (r, c) reads bank
// c at x_base + row r's offset, row r reads Y at y_base + the same offset
// (one Y code broadcast to the row's COLS PEs), and the group-scale codes of
// each row's group are read alongside. A column past M (the last m-tile's
// unused columns) reads code 0 and is marked inactive.
module mls_operand_buf #(
  parameter int unsigned ROWS = 4,
  parameter int unsigned COLS = 8,
  parameter int unsigned NW   = 24,
  parameter int unsigned XB   = 7,   // X element code bits, 1 + E_x + M_x
  parameter int unsigned YB   = 7,
  parameter int unsigned CWX  = 9,   // X group-scale code bits
  parameter int unsigned CWY  = 9,
  parameter int unsigned XAW  = 16,  // address bits of each X bank
  parameter int unsigned YAW  = 20,
  parameter int unsigned XSAW = 12,  // of each X scale bank
  parameter int unsigned YSAW = 16,
  parameter int unsigned BW   = (COLS > 1) ? $clog2(COLS) : 1
) (
  input  logic                      clk_i,
  input  logic                      rst_ni,
  // Load port: sel 0 X codes, 1 X scales (both in bank load_bank_i), 2 Y
  // codes, 3 Y scales.
  input  logic                      load_i,
  input  logic [1:0]                load_sel_i,
  input  logic [BW-1:0]             load_bank_i,
  /* verilator lint_off UNUSEDSIGNAL */  // each memory takes the bits it needs
  input  logic [31:0]               load_addr_i,
  input  logic [15:0]               load_data_i,
  /* verilator lint_on UNUSEDSIGNAL */
  // The issue (controller outputs).
  input  logic [ROWS*NW-1:0]        group_i,
  input  logic [ROWS*NW-1:0]        offset_i,
  input  logic [NW-1:0]             x_base_i,
  input  logic [NW-1:0]             xs_base_i,
  input  logic [NW-1:0]             y_base_i,
  input  logic [NW-1:0]             ys_base_i,
  input  logic [NW-1:0]             m_left_i,
  // The codes, one cycle later.
  output logic [ROWS*COLS*XB-1:0]   x_code_o,   // PE (r, c) at [(r*COLS + c)*XB +: XB]
  output logic [ROWS*YB-1:0]        y_code_o,   // row r at [r*YB +: YB]
  output logic [ROWS*COLS*CWX-1:0]  sx_code_o,  // like x_code_o
  output logic [ROWS*CWY-1:0]       sy_code_o,
  output logic [COLS-1:0]           col_act_o   // column c computes a real output row
);
  // The memories stay out of waveforms (a VCD would list every entry).
  /* verilator tracing_off */
  logic [XB-1:0]  x_mem  [COLS][2**XAW];
  logic [CWX-1:0] xs_mem [COLS][2**XSAW];
  logic [YB-1:0]  y_mem  [2**YAW];
  logic [CWY-1:0] ys_mem [2**YSAW];
  /* verilator tracing_on */

  always_ff @(posedge clk_i) begin
    if (load_i) begin
      case (load_sel_i)
        2'd0: x_mem[load_bank_i][load_addr_i[XAW-1:0]]    <= load_data_i[XB-1:0];
        2'd1: xs_mem[load_bank_i][load_addr_i[XSAW-1:0]]  <= load_data_i[CWX-1:0];
        2'd2: y_mem[load_addr_i[YAW-1:0]]                 <= load_data_i[YB-1:0];
        default: ys_mem[load_addr_i[YSAW-1:0]]            <= load_data_i[CWY-1:0];
      endcase
    end
  end

  logic [COLS-1:0] col_act;
  for (genvar c = 0; c < COLS; c++) begin : g_col_act
    assign col_act[c] = NW'(c) < m_left_i;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      {x_code_o, y_code_o, sx_code_o, sy_code_o, col_act_o} <= '0;
    end else begin
      col_act_o <= col_act;
      for (int r = 0; r < ROWS; r++) begin
        y_code_o[r*YB +: YB]    <= y_mem[YAW'(y_base_i + offset_i[r*NW +: NW])];
        sy_code_o[r*CWY +: CWY] <= ys_mem[YSAW'(ys_base_i + group_i[r*NW +: NW])];
        for (int c = 0; c < COLS; c++) begin
          x_code_o[(r*COLS + c)*XB +: XB] <= col_act[c]
              ? x_mem[c][XAW'(x_base_i + offset_i[r*NW +: NW])] : '0;
          sx_code_o[(r*COLS + c)*CWX +: CWX] <= col_act[c]
              ? xs_mem[c][XSAW'(xs_base_i + group_i[r*NW +: NW])] : '0;
        end
      end
    end
  end
endmodule
