// Top of the block tests under Verilator (tb_blocks.cpp): element multipliers of
// several formats, PEs with a narrow accumulator (saturate and wrap), one fp32
// adder and two adder trees (the scalers are in tb_scalers.sv). Each instance
// has its own ports; the testbench drives them and judges every output against
// the golden model (ref/).
module tb_blocks (
  input  logic        clk_i,
  input  logic        rst_ni,
  // Multipliers: mul<i> for the formats listed in tb_blocks.cpp (kMulFormats).
  input  logic [3:0]  mul0_x_i, mul0_y_i,          // e2m1 x e2m1
  output logic [8:0]  mul0_p_o,
  input  logic [6:0]  mul1_x_i, mul1_y_i,          // e2m4 x e2m4
  output logic [14:0] mul1_p_o,
  input  logic [3:0]  mul2_x_i, mul2_y_i,          // e0m3 x e0m3
  output logic [8:0]  mul2_p_o,
  input  logic [5:0]  mul3_x_i, mul3_y_i,          // e3m2 x e3m2
  output logic [18:0] mul3_p_o,
  input  logic [7:0]  mul4_x_i, mul4_y_i,          // e4m3 x e4m3
  output logic [36:0] mul4_p_o,
  input  logic [6:0]  mul5_x_i,                    // e2m4 x e3m2
  input  logic [5:0]  mul5_y_i,
  output logic [16:0] mul5_p_o,
  input  logic [1:0]  mul6_x_i,                    // e1m0 x e2m1
  input  logic [3:0]  mul6_y_i,
  output logic [5:0]  mul6_p_o,
  // PEs, e2m4 x e2m4 with an 8-bit accumulator: pe0 saturates, pe1 wraps.
  input  logic        pe_valid_i, pe_first_i,
  input  logic [6:0]  pe_x_i, pe_y_i,
  output logic [7:0]  pe0_acc_o, pe1_acc_o,
  output logic        pe0_ovf_o, pe1_ovf_o,
  // fp32 adder.
  input  logic [31:0] add_a_i, add_b_i,
  output logic [31:0] add_o,
  // Adder trees over 5 and 16 slots.
  input  logic        tree_valid_i,
  input  logic [15:0] tree_slot_valid_i,
  input  logic [511:0] tree_slot_i,
  output logic        tree5_valid_o, tree16_valid_o,
  output logic [31:0] tree5_o, tree16_o
);
  mls_elem_mul #(.EX(2), .MX(1), .EY(2), .MY(1)) u_mul0 (.x_code_i(mul0_x_i), .y_code_i(mul0_y_i), .prod_o(mul0_p_o));
  mls_elem_mul #(.EX(2), .MX(4), .EY(2), .MY(4)) u_mul1 (.x_code_i(mul1_x_i), .y_code_i(mul1_y_i), .prod_o(mul1_p_o));
  mls_elem_mul #(.EX(0), .MX(3), .EY(0), .MY(3)) u_mul2 (.x_code_i(mul2_x_i), .y_code_i(mul2_y_i), .prod_o(mul2_p_o));
  mls_elem_mul #(.EX(3), .MX(2), .EY(3), .MY(2)) u_mul3 (.x_code_i(mul3_x_i), .y_code_i(mul3_y_i), .prod_o(mul3_p_o));
  mls_elem_mul #(.EX(4), .MX(3), .EY(4), .MY(3)) u_mul4 (.x_code_i(mul4_x_i), .y_code_i(mul4_y_i), .prod_o(mul4_p_o));
  mls_elem_mul #(.EX(2), .MX(4), .EY(3), .MY(2)) u_mul5 (.x_code_i(mul5_x_i), .y_code_i(mul5_y_i), .prod_o(mul5_p_o));
  mls_elem_mul #(.EX(1), .MX(0), .EY(2), .MY(1)) u_mul6 (.x_code_i(mul6_x_i), .y_code_i(mul6_y_i), .prod_o(mul6_p_o));

  mls_pe #(.ACC_BITS(8), .WRAP(0)) u_pe0 (
    .clk_i, .rst_ni, .valid_i(pe_valid_i), .first_i(pe_first_i), .x_code_i(pe_x_i), .y_code_i(pe_y_i),
    .acc_o(pe0_acc_o), .ovf_o(pe0_ovf_o)
  );
  mls_pe #(.ACC_BITS(8), .WRAP(1)) u_pe1 (
    .clk_i, .rst_ni, .valid_i(pe_valid_i), .first_i(pe_first_i), .x_code_i(pe_x_i), .y_code_i(pe_y_i),
    .acc_o(pe1_acc_o), .ovf_o(pe1_ovf_o)
  );

  mls_fp32_add u_add (.a_i(add_a_i), .b_i(add_b_i), .sum_o(add_o));

  /* verilator lint_off PINCONNECTEMPTY */
  mls_adder_tree #(.ROWS(5), .TAG_W(1)) u_tree5 (
    .clk_i, .rst_ni, .valid_i(tree_valid_i), .tag_i(1'b0), .slot_valid_i(tree_slot_valid_i[4:0]),
    .slot_i(tree_slot_i[159:0]), .valid_o(tree5_valid_o), .tag_o(), .sum_o(tree5_o));
  mls_adder_tree #(.ROWS(16), .TAG_W(1)) u_tree16 (
    .clk_i, .rst_ni, .valid_i(tree_valid_i), .tag_i(1'b0), .slot_valid_i(tree_slot_valid_i),
    .slot_i(tree_slot_i), .valid_o(tree16_valid_o), .tag_o(), .sum_o(tree16_o));
  /* verilator lint_on PINCONNECTEMPTY */
endmodule
