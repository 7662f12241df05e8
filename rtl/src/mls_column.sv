// Multi-row buses are flat, row r in the r-th field from bit 0 (Yosys 0.23
// reads no multi-dimensional packed arrays).
//
// One column of the MAC array (docs/architecture.md): ROWS processing
// elements, a group scaler per row, a pipelined adder tree and the output
// accumulator. The final multiply by the tensor scales is not part of it.
//
// Timing, driven by the array's controller (here: the testbench):
//   - products: row r takes one (x, y) code pair per cycle while row_valid_i[r];
//     row_first_i[r] marks the first product of the row's chunk;
//   - capture: the cycle after a tile's last product cap_i is high; the PEs
//     then hold the tile's chunk sums, which the scalers read with the group
//     scale codes of each row and register (cap_slot_valid_i: the row held a
//     chunk). The next tile's first products may be fed in the same cycle;
//   - the tree and the output accumulator follow, one tile per cycle.
module mls_column #(
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
  parameter int unsigned ROWS     = 16,
  parameter int unsigned PROD_REG = 0,  // mls_pe's multiplier register
  // Derived scale-code widths.
  parameter int unsigned CWX = (EGX + MGX == 0) ? 1 : EGX + MGX,
  parameter int unsigned CWY = (EGY + MGY == 0) ? 1 : EGY + MGY
) (
  input  logic                              clk_i,
  input  logic                              rst_ni,
  // Products.
  input  logic [ROWS-1:0]                   row_valid_i,
  input  logic [ROWS-1:0]                   row_first_i,
  input  logic [ROWS*(EX+MX+1)-1:0]        x_code_i,  // row r at [r*(EX+MX+1) +: EX+MX+1]
  input  logic [ROWS*(EY+MY+1)-1:0]        y_code_i,
  // Capture of a finished tile.
  input  logic                              cap_i,
  input  logic                              cap_first_i,  // first tile of its output
  input  logic                              cap_last_i,   // last tile of its output
  input  logic [ROWS-1:0]                   cap_slot_valid_i,
  input  logic [ROWS*CWX-1:0]              sx_code_i,
  input  logic [ROWS*CWY-1:0]              sy_code_i,
  // Observation points, each checked against the golden model.
  output logic [ROWS*ACC_BITS-1:0]         pe_acc_o,
  output logic [ROWS-1:0]                   pe_ovf_o,
  output logic                              scaled_valid_o,
  output logic [ROWS-1:0]                   scaled_slot_valid_o,
  output logic [ROWS*32-1:0]               scaled_o,
  output logic                              tree_valid_o,
  output logic [31:0]                       tree_o,
  output logic                              out_valid_o,
  output logic [31:0]                       out_acc_o
);
  logic [ROWS*32-1:0]    scaled_d, scaled_q;
  logic [ROWS-1:0]       slot_valid_q;
  logic                  cap_q;
  logic [1:0]            cap_tag_q, tree_tag;

  for (genvar r = 0; r < ROWS; r++) begin : g_row
    mls_pe #(
      .EX(EX), .MX(MX), .EY(EY), .MY(MY), .ACC_BITS(ACC_BITS), .WRAP(WRAP),
      .PROD_REG(PROD_REG)
    ) u_pe (
      .clk_i, .rst_ni,
      .valid_i (row_valid_i[r]),
      .first_i (row_first_i[r]),
      .x_code_i(x_code_i[r*(EX+MX+1) +: EX+MX+1]),
      .y_code_i(y_code_i[r*(EY+MY+1) +: EY+MY+1]),
      .acc_o   (pe_acc_o[r*ACC_BITS +: ACC_BITS]),
      .ovf_o   (pe_ovf_o[r])
    );
    mls_group_scaler #(
      .ACC_BITS(ACC_BITS), .EGX(EGX), .MGX(MGX), .EGY(EGY), .MGY(MGY)
    ) u_scaler (
      .sum_i    (pe_acc_o[r*ACC_BITS +: ACC_BITS]),
      .sx_code_i(sx_code_i[r*CWX +: CWX]),
      .sy_code_i(sy_code_i[r*CWY +: CWY]),
      .fp32_o   (scaled_d[r*32 +: 32])
    );
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cap_q        <= 1'b0;
      cap_tag_q    <= '0;
      slot_valid_q <= '0;
      scaled_q     <= '0;
    end else begin
      cap_q <= cap_i;
      if (cap_i) begin
        cap_tag_q    <= {cap_first_i, cap_last_i};
        slot_valid_q <= cap_slot_valid_i;
        scaled_q     <= scaled_d;
      end
    end
  end

  assign scaled_valid_o      = cap_q;
  assign scaled_slot_valid_o = slot_valid_q;
  assign scaled_o            = scaled_q;

  mls_adder_tree #(.ROWS(ROWS), .TAG_W(2)) u_tree (
    .clk_i, .rst_ni,
    .valid_i     (cap_q),
    .tag_i       (cap_tag_q),
    .slot_valid_i(slot_valid_q),
    .slot_i      (scaled_q),
    .valid_o     (tree_valid_o),
    .tag_o       (tree_tag),
    .sum_o       (tree_o)
  );

  mls_out_acc u_out_acc (
    .clk_i, .rst_ni,
    .valid_i(tree_valid_o),
    .first_i(tree_tag[1]),
    .last_i (tree_tag[0]),
    .tile_i (tree_o),
    .done_o (out_valid_o),
    .acc_o  (out_acc_o)
  );
endmodule
