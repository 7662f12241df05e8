// Controller of the MAC array (docs/architecture.md, "Dataflow per pass"):
// the baseline loop nest m-tile, p, chunk tile, step, one issue per cycle
// from the edge after start_i until the pass's last step, with no bubble
// between tiles or blocks (ideal memory: nothing stalls).
//
// Chunks are listed group-major (chunk j: group j / cpg, chunk j % cpg of the
// group, k from (j % cpg) * chunk, length chunk or last_len for the group's
// last) and dealt ROWS at a time: row r of tile t works on chunk t*ROWS + r
// when that exists. The rows' (group, chunk-in-group) pairs are made by a
// chain of incrementers from row 0's, so no division is needed; the next
// tile's row 0 continues from the last row. A tile lasts as long as its
// longest chunk; a shorter row idles.
//
// The issue is registered (edge t in the pipeline table): per row whether it
// has a product this cycle (act), whether it is its chunk's first (first),
// whether the row holds a chunk in this tile at all (slot), its group and
// its element offset g*K + k inside an operand row of G*K codes. Beside it,
// the bases of the block's operand rows, kept by adding (no multiplier): X
// row mt in each column's bank at mt*G*K (scales mt*G), Y row p at p*G*K
// (scales p*G), and the columns the m-tile still has, M - mt*COLS.
module mls_array_ctrl #(
  parameter int unsigned ROWS = 4,
  parameter int unsigned COLS = 8,
  parameter int unsigned NW   = 24  // counter and offset width
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 start_i,
  // The pass's schedule (stable from start_i to the end of the pass).
  input  logic [NW-1:0]        m_i,         // M
  input  logic [NW-1:0]        m_tiles_i,   // ceil(M / COLS)
  input  logic [NW-1:0]        p_i,         // P
  input  logic [NW-1:0]        g_i,         // G
  input  logic [NW-1:0]        k_i,         // K
  input  logic [NW-1:0]        gk_i,        // G*K
  input  logic [NW-1:0]        chunk_i,     // products per chunk
  input  logic [NW-1:0]        cpg_i,       // chunks per group, ceil(K / chunk)
  input  logic [NW-1:0]        last_len_i,  // length of a group's last chunk
  input  logic [NW-1:0]        tiles_i,     // chunk tiles, ceil(G cpg / ROWS)
  // The issue of this cycle.
  output logic                 valid_o,
  output logic [NW-1:0]        mt_o,
  output logic [NW-1:0]        p_o,
  output logic                 out_first_o,  // the output's first chunk tile
  output logic                 out_last_o,   // the output's last chunk tile
  output logic                 step_last_o,  // the tile's last step
  output logic                 pass_last_o,  // the pass's last issue
  output logic [ROWS-1:0]      act_o,
  output logic [ROWS-1:0]      first_o,
  output logic [ROWS-1:0]      slot_o,
  output logic [ROWS*NW-1:0]   group_o,      // row r at [r*NW +: NW]
  output logic [ROWS*NW-1:0]   offset_o,     // g*K + k, row r at [r*NW +: NW]
  output logic [NW-1:0]        x_base_o,     // mt*G*K
  output logic [NW-1:0]        xs_base_o,    // mt*G
  output logic [NW-1:0]        y_base_o,     // p*G*K
  output logic [NW-1:0]        ys_base_o,    // p*G
  output logic [NW-1:0]        m_left_o      // M - mt*COLS
);
  logic          run_q;
  logic [NW-1:0] mt_q, p_q, t_q, s_q;
  // Row 0's chunk: group, chunk in group, its first k, and g*K.
  logic [NW-1:0] g0_q, c0_q, kb0_q, gk0_q;
  logic [NW-1:0] xb_q, xsb_q, yb_q, ysb_q, m_left_q;

  // The chain, row by row: row r's group, its element base g*K + k_begin,
  // whether it holds a chunk and whether that is its group's last; then the
  // next tile's row 0.
  logic [NW-1:0]   row_g    [ROWS];
  logic [NW-1:0]   row_base [ROWS];
  logic [ROWS-1:0] has, wrap, act;
  logic [NW-1:0]   next_g, next_c, next_kb, next_gk;
  logic            any_full;  // a row of this tile holds a chunk that is not its group's last
  logic [NW-1:0]   tile_len;

  always_comb begin
    next_g   = g0_q;
    next_c   = c0_q;
    next_kb  = kb0_q;
    next_gk  = gk0_q;
    any_full = 1'b0;
    for (int r = 0; r < ROWS; r++) begin
      row_g[r]    = next_g;
      row_base[r] = next_gk + next_kb;
      has[r]      = next_g < g_i;
      wrap[r]     = next_c == cpg_i - 1'b1;
      if (has[r] && !wrap[r]) any_full = 1'b1;
      if (wrap[r]) begin
        next_g  = next_g + 1'b1;
        next_c  = '0;
        next_kb = '0;
        next_gk = next_gk + k_i;
      end else begin
        next_c  = next_c + 1'b1;
        next_kb = next_kb + chunk_i;
      end
    end
  end
  assign tile_len = any_full ? chunk_i : last_len_i;
  for (genvar r = 0; r < ROWS; r++) begin : g_act
    assign act[r] = has[r] && (s_q < (wrap[r] ? last_len_i : chunk_i));
  end

  logic step_last, tile_last, p_last, mt_last;
`ifdef MLS_FAULT_CTRL
  // Fault injection for the array test's own test: every tile one step too long.
  assign step_last = s_q == tile_len;
`else
  assign step_last = s_q == tile_len - 1'b1;
`endif
  assign tile_last = t_q == tiles_i - 1'b1;
  assign p_last    = p_q == p_i - 1'b1;
  assign mt_last   = mt_q == m_tiles_i - 1'b1;

  // The loop nest's next position.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q <= 1'b0;
      {mt_q, p_q, t_q, s_q, g0_q, c0_q, kb0_q, gk0_q} <= '0;
      {xb_q, xsb_q, yb_q, ysb_q, m_left_q} <= '0;
    end else if (start_i && !run_q) begin
      run_q <= 1'b1;
      {mt_q, p_q, t_q, s_q, g0_q, c0_q, kb0_q, gk0_q} <= '0;
      {xb_q, xsb_q, yb_q, ysb_q} <= '0;
      m_left_q <= m_i;
    end else if (run_q) begin
      if (!step_last) begin
        s_q <= s_q + 1'b1;
      end else begin
        s_q <= '0;
        if (!tile_last) begin
          t_q   <= t_q + 1'b1;
          g0_q  <= next_g;
          c0_q  <= next_c;
          kb0_q <= next_kb;
          gk0_q <= next_gk;
        end else begin
          {t_q, g0_q, c0_q, kb0_q, gk0_q} <= '0;
          if (!p_last) begin
            p_q   <= p_q + 1'b1;
            yb_q  <= yb_q + gk_i;
            ysb_q <= ysb_q + g_i;
          end else begin
            {p_q, yb_q, ysb_q} <= '0;
            mt_q     <= mt_q + 1'b1;
            xb_q     <= xb_q + gk_i;
            xsb_q    <= xsb_q + g_i;
            m_left_q <= m_left_q - NW'(COLS);
            if (mt_last) run_q <= 1'b0;
          end
        end
      end
    end
  end

  // The registered issue.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      valid_o <= 1'b0;
      {mt_o, p_o, out_first_o, out_last_o, step_last_o, pass_last_o} <= '0;
      {act_o, first_o, slot_o, group_o, offset_o} <= '0;
      {x_base_o, xs_base_o, y_base_o, ys_base_o, m_left_o} <= '0;
    end else begin
      valid_o     <= run_q;
      mt_o        <= mt_q;
      p_o         <= p_q;
      out_first_o <= t_q == '0;
      out_last_o  <= tile_last;
      step_last_o <= run_q && step_last;
      pass_last_o <= run_q && step_last && tile_last && p_last && mt_last;
      act_o       <= run_q ? act : '0;
      first_o     <= (s_q == '0) ? has : '0;
      slot_o      <= has;
      x_base_o    <= xb_q;
      xs_base_o   <= xsb_q;
      y_base_o    <= yb_q;
      ys_base_o   <= ysb_q;
      m_left_o    <= m_left_q;
      for (int r = 0; r < ROWS; r++) begin
        group_o[r*NW +: NW]  <= row_g[r];
        offset_o[r*NW +: NW] <= row_base[r] + s_q;
      end
    end
  end
endmodule
