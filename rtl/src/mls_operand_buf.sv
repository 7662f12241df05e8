// Operand buffers of the MAC array (docs/architecture.md, "What the buffers
// hold"): X's element codes and group-scale codes for every (m, g, k), Y's for
// every (p, g, k), loaded whole before the pass (the host's DMA step, here a
// write port), read one cycle after the issue (edge t+1 of the pipeline
// table) and registered.
//
// Layout: X row m (one output row, G*K codes, group-major) starts at m*G*K,
// its scale codes at m*G; Y row p likewise. Each cycle PE (r, c) reads
// X[mt*COLS + c] at row r's offset, row r reads Y[p] at the same offset
// (one Y code broadcast to the row's COLS PEs), and the group-scale codes of
// each row's group are read alongside. A column past M (the last m-tile's
// unused columns) reads code 0 and is marked inactive.
module mls_operand_buf #(
  parameter int unsigned ROWS  = 4,
  parameter int unsigned COLS  = 8,
  parameter int unsigned NW    = 24,
  parameter int unsigned XB    = 7,   // X element code bits, 1 + E_x + M_x
  parameter int unsigned YB    = 7,
  parameter int unsigned CWX   = 9,   // X group-scale code bits
  parameter int unsigned CWY   = 9,
  parameter int unsigned XAW   = 16,  // address bits of each memory
  parameter int unsigned YAW   = 20,
  parameter int unsigned XSAW  = 12,
  parameter int unsigned YSAW  = 16
) (
  input  logic                      clk_i,
  input  logic                      rst_ni,
  // Load port: sel 0 X codes, 1 X scales, 2 Y codes, 3 Y scales.
  input  logic                      load_i,
  input  logic [1:0]                load_sel_i,
  /* verilator lint_off UNUSEDSIGNAL */  // each memory takes the bits it needs
  input  logic [31:0]               load_addr_i,
  input  logic [15:0]               load_data_i,
  /* verilator lint_on UNUSEDSIGNAL */
  // Sizes.
  input  logic [NW-1:0]             m_i,
  input  logic [NW-1:0]             g_i,
  input  logic [NW-1:0]             gk_i,  // G*K
  // The issue (controller outputs).
  input  logic [NW-1:0]             mt_i,
  input  logic [NW-1:0]             p_i,
  input  logic [ROWS*NW-1:0]        group_i,
  input  logic [ROWS*NW-1:0]        offset_i,
  // The codes, one cycle later.
  output logic [ROWS*COLS*XB-1:0]   x_code_o,   // PE (r, c) at [(r*COLS + c)*XB +: XB]
  output logic [ROWS*YB-1:0]        y_code_o,   // row r at [r*YB +: YB]
  output logic [ROWS*COLS*CWX-1:0]  sx_code_o,  // like x_code_o
  output logic [ROWS*CWY-1:0]       sy_code_o,
  output logic [COLS-1:0]           col_act_o   // column c computes a real output row
);
  logic [XB-1:0]  x_mem  [2**XAW];
  logic [YB-1:0]  y_mem  [2**YAW];
  logic [CWX-1:0] xs_mem [2**XSAW];
  logic [CWY-1:0] ys_mem [2**YSAW];

  always_ff @(posedge clk_i) begin
    if (load_i) begin
      case (load_sel_i)
        2'd0: x_mem[load_addr_i[XAW-1:0]]   <= load_data_i[XB-1:0];
        2'd1: xs_mem[load_addr_i[XSAW-1:0]] <= load_data_i[CWX-1:0];
        2'd2: y_mem[load_addr_i[YAW-1:0]]   <= load_data_i[YB-1:0];
        default: ys_mem[load_addr_i[YSAW-1:0]] <= load_data_i[CWY-1:0];
      endcase
    end
  end

  // Addresses of this cycle's reads.
  logic [COLS*NW-1:0] m_of;    // output row of column c
  logic [COLS-1:0]    col_act;
  logic [NW-1:0]      y_base, ys_base;
  assign y_base  = p_i * gk_i;
  assign ys_base = p_i * g_i;
  for (genvar c = 0; c < COLS; c++) begin : g_col_addr
    assign m_of[c*NW +: NW] = mt_i * NW'(COLS) + NW'(c);
    assign col_act[c]       = m_of[c*NW +: NW] < m_i;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      {x_code_o, y_code_o, sx_code_o, sy_code_o, col_act_o} <= '0;
    end else begin
      col_act_o <= col_act;
      for (int r = 0; r < ROWS; r++) begin
        y_code_o[r*YB +: YB]   <= y_mem[YAW'(y_base + offset_i[r*NW +: NW])];
        sy_code_o[r*CWY +: CWY] <= ys_mem[YSAW'(ys_base + group_i[r*NW +: NW])];
        for (int c = 0; c < COLS; c++) begin
          x_code_o[(r*COLS + c)*XB +: XB] <= col_act[c]
              ? x_mem[XAW'(m_of[c*NW +: NW] * gk_i + offset_i[r*NW +: NW])] : '0;
          sx_code_o[(r*COLS + c)*CWX +: CWX] <= col_act[c]
              ? xs_mem[XSAW'(m_of[c*NW +: NW] * g_i + group_i[r*NW +: NW])] : '0;
        end
      end
    end
  end
endmodule
