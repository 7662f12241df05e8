// Pipelined fp32 adder tree over ROWS slots, one register per level
// (latency LEVELS = ceil(log2 ROWS) cycles, one tile per cycle). The order is
// the golden model's (docs/reference.md, "Adder tree"): at each level slot i
// of the next level is slot 2i + slot 2i+1; a slot without a value passes its
// partner through unchanged (no addition); an odd last slot moves up
// unchanged. The root is +0 when no slot holds a value. tag_i travels with
// the tile (the output accumulator's first/last flags).
//
// Multi-slot buses are flat (slot i is bits [32 i +: 32]) because Yosys 0.23
// reads no multi-dimensional packed arrays.
module mls_adder_tree #(
  parameter int unsigned ROWS  = 16,
  parameter int unsigned TAG_W = 2
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 valid_i,
  input  logic [TAG_W-1:0]     tag_i,
  input  logic [ROWS-1:0]      slot_valid_i,
  input  logic [ROWS*32-1:0]   slot_i,
  output logic                 valid_o,
  output logic [TAG_W-1:0]     tag_o,
  output logic [31:0]          sum_o
);
  localparam int unsigned LEVELS = (ROWS > 1) ? $clog2(ROWS) : 0;
  localparam int unsigned QL     = (LEVELS > 0) ? LEVELS : 1;  // register levels declared

  // Slots held at each level; level 0 is the input.
  function automatic int unsigned slots_at(int unsigned level);
    slots_at = (ROWS + (1 << level) - 1) >> level;
  endfunction

  // What level l holds (level 0: the input, level l+1: the register after the
  // additions of level l), level l at [l * ROWS * 32 +: ROWS * 32].
  // Levels above 0 use only their first slots_at(l) slots.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [(LEVELS+1)*ROWS*32-1:0]  val;
  logic [(LEVELS+1)*ROWS-1:0]     ok;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [LEVELS:0]                tile_valid;
  logic [(LEVELS+1)*TAG_W-1:0]    tag;
  // The additions of each level and their registers.
  logic [QL*ROWS*32-1:0]          val_d, val_q;
  logic [QL*ROWS-1:0]             ok_d, ok_q;
  logic [QL-1:0]                  tile_valid_q;
  logic [QL*TAG_W-1:0]            tag_q;

  assign val[0 +: ROWS*32]  = slot_i;
  assign ok[0 +: ROWS]      = slot_valid_i;
  assign tile_valid[0]      = valid_i;
  assign tag[0 +: TAG_W]    = tag_i;

  for (genvar l = 0; l < LEVELS; l++) begin : g_level
    localparam int unsigned N  = slots_at(l);
    localparam int unsigned VB = l * ROWS * 32;  // base of level l in val
    localparam int unsigned OB = l * ROWS;       // base of level l in ok

    for (genvar i = 0; i < ROWS; i++) begin : g_slot
      if (i < N / 2) begin : g_pair
        logic        a_ok, b_ok;
        logic [31:0] a, b, pair_sum;
        assign a_ok = ok[OB + 2*i];
        assign b_ok = ok[OB + 2*i + 1];
        assign a    = val[VB + 64*i +: 32];
        assign b    = val[VB + 64*i + 32 +: 32];
        mls_fp32_add u_add (.a_i(a), .b_i(b), .sum_o(pair_sum));
        assign val_d[VB + 32*i +: 32] = (a_ok && b_ok) ? pair_sum : (a_ok ? a : b);
        assign ok_d[OB + i]           = a_ok | b_ok;
      end else if (i == N / 2 && (N % 2) == 1) begin : g_odd
        assign val_d[VB + 32*i +: 32] = val[VB + 32*(N-1) +: 32];
        assign ok_d[OB + i]           = ok[OB + N - 1];
      end else begin : g_unused
        assign val_d[VB + 32*i +: 32] = '0;
        assign ok_d[OB + i]           = 1'b0;
      end
    end

    assign val[VB + ROWS*32 +: ROWS*32] = val_q[VB +: ROWS*32];
    assign ok[OB + ROWS +: ROWS]        = ok_q[OB +: ROWS];
    assign tile_valid[l+1]              = tile_valid_q[l];
    assign tag[(l+1)*TAG_W +: TAG_W]    = tag_q[l*TAG_W +: TAG_W];
  end

  if (LEVELS == 0) begin : g_no_levels
    assign val_d = '0;
    assign ok_d  = '0;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      val_q        <= '0;
      ok_q         <= '0;
      tile_valid_q <= '0;
      tag_q        <= '0;
    end else begin
      val_q        <= val_d;
      ok_q         <= ok_d;
      tile_valid_q <= tile_valid[QL-1:0];
      tag_q        <= tag[QL*TAG_W-1:0];
    end
  end

  assign valid_o = tile_valid[LEVELS];
  assign tag_o   = tag[LEVELS*TAG_W +: TAG_W];
  assign sum_o   = ok[LEVELS*ROWS] ? val[LEVELS*ROWS*32 +: 32] : 32'h0;
endmodule
