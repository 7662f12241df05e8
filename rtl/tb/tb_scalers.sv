// Top of the scaler tests under Verilator (tb_blocks.cpp, mode scaler): six
// group scalers of several scale formats and accumulator widths. Apart from
// tb_blocks so that each of the 15 M evaluations computes the scalers alone.
module tb_scalers (
  // Group scalers: sc0 acc 16 e8m1 x e8m1, sc1 acc 16 e8m0 x e8m0,
  // sc2 acc 32 e8m1 x e5m0, sc3 acc 62 e8m1 x e8m1, sc4 acc 12 e2m1 x e0m1,
  // sc5 acc 20 e5m2 x e3m3 (the multiplier form on both operands).
  input  logic [15:0] sc0_sum_i, sc1_sum_i,
  input  logic [31:0] sc2_sum_i,
  input  logic [61:0] sc3_sum_i,
  input  logic [11:0] sc4_sum_i,
  input  logic [19:0] sc5_sum_i,
  input  logic [8:0]  sc0_sx_i, sc0_sy_i,
  input  logic [7:0]  sc1_sx_i, sc1_sy_i,
  input  logic [8:0]  sc2_sx_i,
  input  logic [4:0]  sc2_sy_i,
  input  logic [8:0]  sc3_sx_i, sc3_sy_i,
  input  logic [2:0]  sc4_sx_i,
  input  logic [0:0]  sc4_sy_i,
  input  logic [6:0]  sc5_sx_i,
  input  logic [5:0]  sc5_sy_i,
  output logic [31:0] sc0_o, sc1_o, sc2_o, sc3_o, sc4_o, sc5_o
);
  mls_group_scaler #(.ACC_BITS(16), .EGX(8), .MGX(1), .EGY(8), .MGY(1)) u_sc0 (
    .sum_i(sc0_sum_i), .sx_code_i(sc0_sx_i), .sy_code_i(sc0_sy_i), .fp32_o(sc0_o));
  mls_group_scaler #(.ACC_BITS(16), .EGX(8), .MGX(0), .EGY(8), .MGY(0)) u_sc1 (
    .sum_i(sc1_sum_i), .sx_code_i(sc1_sx_i), .sy_code_i(sc1_sy_i), .fp32_o(sc1_o));
  mls_group_scaler #(.ACC_BITS(32), .EGX(8), .MGX(1), .EGY(5), .MGY(0)) u_sc2 (
    .sum_i(sc2_sum_i), .sx_code_i(sc2_sx_i), .sy_code_i(sc2_sy_i), .fp32_o(sc2_o));
  mls_group_scaler #(.ACC_BITS(62), .EGX(8), .MGX(1), .EGY(8), .MGY(1)) u_sc3 (
    .sum_i(sc3_sum_i), .sx_code_i(sc3_sx_i), .sy_code_i(sc3_sy_i), .fp32_o(sc3_o));
  mls_group_scaler #(.ACC_BITS(12), .EGX(2), .MGX(1), .EGY(0), .MGY(1)) u_sc4 (
    .sum_i(sc4_sum_i), .sx_code_i(sc4_sx_i), .sy_code_i(sc4_sy_i), .fp32_o(sc4_o));
  mls_group_scaler #(.ACC_BITS(20), .EGX(5), .MGX(2), .EGY(3), .MGY(3)) u_sc5 (
    .sum_i(sc5_sum_i), .sx_code_i(sc5_sx_i), .sy_code_i(sc5_sy_i), .fp32_o(sc5_o));

endmodule
