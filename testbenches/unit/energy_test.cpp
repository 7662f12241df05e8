// Energy model tests. Every expected energy is literal arithmetic written out by
// hand from the event counts and the table values of docs/energy.md; nothing
// expected is computed by the code under test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "ref/core/error.h"
#include "sim/energy/energy.h"

namespace mls {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The reference layer: forward 3x3 conv, N = 1, Ci = 3, H = W = 3, Co = 3,
// stride 1, padding 1 (so Ho = Wo = 3), chunk 16, on a 2 x 2 array (R = C = 2).
// Lowered (docs/reference.md#convolution-arithmetic): M = Co = 3, P = N*Ho*Wo = 9, G = Ci = 3, K = Kh*Kw = 9.
//   mul       = M*P*G*K = 3*9*3*9                      = 729
//   mul_zero  = padding taps: per (m, g) the 9 outputs see 4 corners x 5 +
//               4 edges x 3 + 1 centre x 0 = 32 zero taps -> 3*3*32 = 288
//               (not priced; no zero gating is modelled)
//   acc_add   = one per product                        = 729
//   scale     = one per chunk; K = 9 <= 16 is one chunk per group: M*P*G = 81
//   chunk tiles per (m, p): ceil(G / R) = 2, holding 2 and 1 chunks.
//   tree_add  = live inputs - 1 per tile (hw_model/array/adder_tree.cpp adds only valid
//               pairs): (2-1) + (1-1) = 1 per (m, p)  -> 27
//   out_acc   = one add per tree result (hw_model/array/output_accumulator.cpp starts
//               from 0): 2 per (m, p)                  -> 54
//   final_mul = one per output M*P                     = 27
//   write_out = one per output                         = 27
//   read_x    = one per active PE per cycle = mul      = 729
//   read_y    = one per active row per cycle: m-tiles ceil(3/2) = 2, times P = 9,
//               times (2 rows + 1 row) x 9 cycles = 2*9*27 = 486
//   cycles    = m-tiles x P x chunk-tiles x 9 = 2*9*2*9 = 324 (+ pipeline depth)
Stats conv3x3_events() {
  Stats s;
  s.cycles = 324;
  s.mul = 729;
  s.mul_zero = 288;
  s.acc_add = 729;
  s.scale = 81;
  s.tree_add = 27;
  s.out_acc = 54;
  s.final_mul = 27;
  s.read_x = 729;
  s.read_y = 486;
  s.write_out = 27;
  return s;
}

json stats_json(const Stats& s) { return counters_json(s); }

void expect_close(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-12 * std::fabs(expected) + 1e-15) << "expected " << expected;
}

// A scratch directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("mls_energy_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Expects an mls::Error whose message holds every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const std::string& part : parts) EXPECT_NE(what.find(part), std::string::npos) << what << " lacks " << part;
  }
}

// ---------------------------------------------------------------------------
// The block functions, on made-up coefficients chosen so every term is visible.

Coefficients sample_coefficients() {
  Coefficients c;
  c.int_add_op = 1;
  c.int_add_bit = 0.5;
  c.int_mul_op = 2;
  c.int_mul_pp_bit = 0.25;
  c.shift_mux_bit = 0.125;
  c.fp_add_bit = 0.1;
  c.fp_add_align_bit = 0.01;
  c.fp_mul_bit = 0.2;
  c.fp_mul_pp_bit = 0.02;
  return c;
}

TEST(Blocks, IntegerUnits) {
  const Coefficients c = sample_coefficients();
  expect_close(int_adder(c, 16), 1 + 0.5 * 16);
  expect_close(int_multiplier(c, 5, 3), 2 + 0.25 * 15);
  // Stages ceil(log2(max_shift + 1)): 0 -> 0, 1 -> 1, 3 -> 2, 4 -> 3, 6 -> 3, 7 -> 3, 8 -> 4.
  expect_close(barrel_shifter(c, 16, 0), 0);
  expect_close(barrel_shifter(c, 16, 1), 0.125 * 1 * 16);
  expect_close(barrel_shifter(c, 16, 3), 0.125 * 2 * 16);
  expect_close(barrel_shifter(c, 16, 4), 0.125 * 3 * 16);
  expect_close(barrel_shifter(c, 10, 7), 0.125 * 3 * 10);
  expect_close(barrel_shifter(c, 10, 8), 0.125 * 4 * 10);
}

TEST(Blocks, FloatUnits) {
  const Coefficients c = sample_coefficients();
  expect_close(fp_adder(c, kFp32), 0.1 * 32 + 0.01 * 24 * 5);  // (m+1) = 24, ceil(log2 24) = 5
  expect_close(fp_adder(c, kFp16), 0.1 * 16 + 0.01 * 11 * 4);  // 11, ceil(log2 11) = 4
  expect_close(fp_multiplier(c, kFp32), 0.2 * 32 + 0.02 * 24 * 24);
  expect_close(fp_multiplier(c, kFp8E4M3), 0.2 * 8 + 0.02 * 4 * 4);
  expect_close(fp_multiplier(c, kFp8E5M2), 0.2 * 8 + 0.02 * 3 * 3);
  expect_close(fp_adder(c, kFp8E5M2), 0.1 * 8 + 0.01 * 3 * 2);  // (m+1) = 3, ceil(log2 3) = 2
  expect_close(fp_multiplier(c, kBf16), 0.2 * 16 + 0.02 * 8 * 8);
}

TEST(Blocks, ElementMultiplier) {
  const Coefficients c = sample_coefficients();
  // e2m4: 5-bit mantissas (hidden bit), shifts 0..2 each, so 0..4: 3 stages of 10 + 4 bits.
  expect_close(element_multiplier(c, {2, 4}, {2, 4}), 2 + 0.25 * 25 + 0.125 * 3 * 14);
  // e0m3: fixed point, 3-bit mantissas, no shift.
  expect_close(element_multiplier(c, {0, 3}, {0, 3}), 2 + 0.25 * 9);
  // e1m2 (3 bits, shift 0) x e3m1 (2 bits, shifts 0..6): 3 stages of 5 + 6 bits.
  expect_close(element_multiplier(c, {1, 2}, {3, 1}), 2 + 0.25 * 6 + 0.125 * 3 * 11);
  EXPECT_EQ(element_mantissa_bits({0, 3}), 3);
  EXPECT_EQ(element_mantissa_bits({1, 3}), 4);
  EXPECT_EQ(element_max_shift({1, 3}), 0);
  EXPECT_EQ(element_max_shift({3, 3}), 6);
}

TEST(Blocks, AccumulatorAndGroupScaler) {
  const Coefficients c = sample_coefficients();
  expect_close(local_accumulator_add(c, 12), 1 + 0.5 * 12);
  // e8m1 x e8m1 on 16 bits: 2 shift-adds of 18 bits, a 9-bit exponent add,
  // a normaliser of 18 bits shifting 0..17 (5 stages).
  expect_close(group_scaler(c, {8, 1}, {8, 1}, 16), 2 * (1 + 0.5 * 18) + (1 + 0.5 * 9) + 0.125 * 5 * 18);
  // e8m0 x e5m1 on 12 bits: 1 shift-add of 13 bits, 9-bit exponent add, 4 stages of 13.
  expect_close(group_scaler(c, {8, 0}, {5, 1}, 12), 1 * (1 + 0.5 * 13) + (1 + 0.5 * 9) + 0.125 * 4 * 13);
  // e4m3 x e4m3 on 16 bits (NVFP4's scales): the multiplier form, a 4 x 4
  // mantissa multiply and a 16 x 8 multiply by its product, a 5-bit
  // exponent add, a normaliser of 22 bits shifting 0..21 (5 stages).
  expect_close(group_scaler(c, {4, 3}, {4, 3}, 16),
               (2 + 0.25 * 16) + (2 + 0.25 * 128) + (1 + 0.5 * 5) + 0.125 * 5 * 22);
  // One operand with M_g = 2 is enough: e4m2 x e8m0 on 12 bits, 3 x 1 then 12 x 4.
  expect_close(group_scaler(c, {4, 2}, {8, 0}, 12),
               (2 + 0.25 * 3) + (2 + 0.25 * 48) + (1 + 0.5 * 9) + 0.125 * 4 * 14);
  EXPECT_FALSE(group_scaler_multiplies({8, 1}, {8, 1}));
  EXPECT_TRUE(group_scaler_multiplies({8, 0}, {4, 2}));
}

// Each block strictly grows with every width it depends on.
TEST(Blocks, MonotoneInWidths) {
  const Coefficients h = builtin_energy_table("horowitz-45nm").coefficients;
  for (int e = 0; e <= 3; ++e)
    for (int m = 1; m < 6; ++m) {
      const ElemFormat f{e, m}, wider_m{e, m + 1}, wider_e{e + 1, m};
      EXPECT_LT(element_multiplier(h, f, f), element_multiplier(h, wider_m, wider_m)) << f.name();
      EXPECT_LT(element_multiplier(h, f, f), element_multiplier(h, wider_e, wider_e)) << f.name();
    }
  for (int bits = 8; bits < 40; ++bits) {
    EXPECT_LT(local_accumulator_add(h, bits), local_accumulator_add(h, bits + 1));
    EXPECT_LT(group_scaler(h, {8, 1}, {8, 1}, bits), group_scaler(h, {8, 1}, {8, 1}, bits + 1));
  }
  EXPECT_LT(group_scaler(h, {8, 0}, {8, 0}, 16), group_scaler(h, {8, 1}, {8, 1}, 16));
}

// ---------------------------------------------------------------------------
// Built-in tables: each gives its quoted figures back at the quoted widths.

TEST(EnergyTables, BuiltinNames) {
  EXPECT_EQ(builtin_energy_table_names(),
            (std::vector<std::string>{"paper-unit", "horowitz-45nm", "mac-65nm", "osu018"}));
  EXPECT_EQ(builtin_energy_table("paper-unit").unit, "relative");
  EXPECT_EQ(builtin_energy_table("horowitz-45nm").unit, "pJ");
  EXPECT_EQ(builtin_energy_table("mac-65nm").unit, "pJ");
  EXPECT_EQ(builtin_energy_table("paper-unit").model, EnergyTable::Model::flat);
  EXPECT_EQ(builtin_energy_table("horowitz-45nm").model, EnergyTable::Model::width_aware);
}

TEST(EnergyTables, HorowitzQuotedFigures) {
  const Coefficients h = builtin_energy_table("horowitz-45nm").coefficients;
  expect_close(int_adder(h, 8), 0.03);
  expect_close(int_adder(h, 32), 0.1);
  expect_close(int_adder(h, 16), 0.03 + (0.1 - 0.03) * 8 / 24);  // the old int16 figure, interpolated
  expect_close(int_multiplier(h, 8, 8), 0.2);
  expect_close(int_multiplier(h, 32, 32), 3.1);
  expect_close(fp_adder(h, kFp16), 0.4);
  expect_close(fp_adder(h, kFp32), 0.9);
  expect_close(fp_multiplier(h, kFp16), 1.1);
  expect_close(fp_multiplier(h, kFp32), 3.7);
  expect_close(*h.sram_read_bit * 64, 10);  // 8 KB SRAM, 64-bit read
  expect_close(*h.sram_write_bit * 64, 10);
  expect_close(*h.gated_fraction, 0.1);
  expect_close(*h.dram_read_bit * 64, 1300);  // the low end of the quoted 1300-2600 pJ
}

TEST(EnergyTables, Mac65nmQuotedFigures) {
  const Coefficients m = builtin_energy_table("mac-65nm").coefficients;
  expect_close(fp_multiplier(m, kFp32), 5.32);
  expect_close(fp_adder(m, kFp32), 1.40);
  expect_close(fp_multiplier(m, kFp8E4M3), 0.23);
  expect_close(element_multiplier(m, {2, 1}, {2, 1}), 0.192);  // the MLS design, e2m1
  expect_close(local_accumulator_add(m, 16), 0.094);
  EXPECT_FALSE(m.sram_read_bit.has_value());
}

TEST(EnergyTables, PaperUnitConvLayer) {
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("paper-unit"), nullptr);
  expect_close(r.by_block.multiplier, 729 * (4.0 / 7));
  expect_close(r.by_block.local_accumulator, 729 * (1.0 / 20));
  expect_close(r.by_block.group_scaler, 81 * (1.0 / 20));
  expect_close(r.by_block.adder_tree, 27 * 1.0);
  expect_close(r.by_block.output_accumulator, 54 * 1.0);
  expect_close(r.by_block.final_scale, 27 * 4.0);
  const double mls = 729 * (4.0 / 7) + 729 / 20.0 + 81 / 20.0 + 27 + 54 + 27 * 4;  // 646.0714...
  const double fp32 = 729 * 4.0 + (729 + 27 + 54) * 1.0;                         // 3726
  const double fp8 = 729 * (4.0 / 7) + (729 + 27 + 54) * 1.0 + 27 * 4.0;          // 1334.571...
  expect_close(r.mls(), mls);
  expect_close(*r.designs.at("fp32").arithmetic, fp32);
  expect_close(*r.designs.at("fp8").arithmetic, fp8);
  expect_close(r.over_mls("fp32"), fp32 / mls);
  expect_close(r.over_mls("fp8"), fp8 / mls);
  // paper-unit has no fp16 add and no bf16 multiply: those baselines are not priced.
  EXPECT_FALSE(r.designs.at("fp8-fp16acc").arithmetic.has_value());
  EXPECT_FALSE(r.designs.at("bf16").arithmetic.has_value());
  EXPECT_TRUE(std::isnan(r.over_mls("bf16")));
  EXPECT_FALSE(r.memory.has_value());
  EXPECT_EQ(r.unit, "relative");
}

// docs/energy.md: forward 3x3 conv, chunk 16, paper-unit:
//   fp32/MLS = 644 Ci / (93 Ci + 56),  fp8/MLS = (212 Ci + 56) / (93 Ci + 56),
// independent of M, P, R. Checked for Ci = 3 on 2 x 2 and Ci = 64 on 16 x 16.
TEST(EnergyTables, PaperUnitRatioMatchesClosedForm) {
  const EnergyTable paper = builtin_energy_table("paper-unit");
  expect_close(compute_energy(conv3x3_events(), paper, nullptr).over_mls("fp32"), 644.0 * 3 / (93 * 3 + 56));
  // Co = 32, N*Ho*Wo = 64, Ci = 64, R = 16: T = 4 chunk tiles of 16 chunks.
  Stats s;
  s.mul = s.acc_add = 32 * 64 * 64 * 9;
  s.scale = 32 * 64 * 64;
  s.tree_add = 32 * 64 * (64 - 4);  // 15 adds in each of 4 full tiles
  s.out_acc = 32 * 64 * 4;        // one per tree result
  s.final_mul = s.write_out = 32 * 64;
  const EnergyResult r = compute_energy(s, paper, nullptr);
  expect_close(r.over_mls("fp32"), 644.0 * 64 / (93 * 64 + 56));
  expect_close(r.over_mls("fp8"), (212.0 * 64 + 56) / (93 * 64 + 56));
}

// The conv layer's pass at e2m4 elements, e8m1 scales, a 16-bit accumulator.
PassWidths e2m4_widths() {
  PassWidths w;
  w.x_elem = w.y_elem = ElemFormat{2, 4};
  w.x_scale = w.y_scale = ScaleFormat{8, 1};
  w.acc_bits = 16;
  w.group_len = 9;
  return w;
}

// Horowitz's coefficients written out from the quoted figures (not read from the code).
struct HorowitzByHand {
  double add_bit = (0.1 - 0.03) / 24, add_op = 0.03 - 8 * add_bit;
  double pp_bit = (3.1 - 0.2) / (1024 - 64), mul_op = 0.2 - 64 * pp_bit;
  double mux_bit = add_bit / 2;
  // fp multiplier through fp16 (16 bits, 121 pp bits) = 1.1 and fp32 (32, 576) = 3.7.
  double fmul_pp = (3.7 - 2 * 1.1) / (576 - 2 * 121), fmul_bit = (1.1 - 121 * fmul_pp) / 16;
  double add(int bits) const { return add_op + add_bit * bits; }
};

TEST(EnergyTables, Horowitz45nmConvLayer) {
  const HorowitzByHand h;
  const PassWidths w = e2m4_widths();
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("horowitz-45nm"), &w);
  const double mul = h.mul_op + 25 * h.pp_bit + h.mux_bit * 3 * 14;           // 5 x 5 bits, shift 0..4
  const double acc = h.add(16);
  const double scale = 2 * h.add(18) + h.add(9) + h.mux_bit * 5 * 18;
  const double mls = 729 * mul + 729 * acc + 81 * scale + 27 * 0.9 + 54 * 0.9 + 27 * 3.7;
  const double fp8_mul = 8 * h.fmul_bit + 16 * h.fmul_pp;
  const double bf16_mul = 16 * h.fmul_bit + 64 * h.fmul_pp;
  expect_close(r.by_block.multiplier, 729 * mul);
  expect_close(r.by_block.local_accumulator, 729 * acc);
  expect_close(r.by_block.group_scaler, 81 * scale);
  expect_close(r.mls(), mls);
  expect_close(*r.designs.at("fp32").arithmetic, 729 * 3.7 + 810 * 0.9);
  expect_close(*r.designs.at("fp8").arithmetic, 729 * fp8_mul + 810 * 0.9 + 27 * 3.7);
  expect_close(*r.designs.at("fp8-fp16acc").arithmetic, 729 * fp8_mul + 810 * 0.4 + 27 * 3.7);
  expect_close(*r.designs.at("bf16").arithmetic, 729 * bf16_mul + 810 * 0.9);
  // Memory: bits moved x 10/64 pJ. MLS elements are 7 bits plus 9/9 bits of
  // group scale; two 32-bit tensor scales; fp32 outputs.
  const double bit = 10.0 / 64;
  ASSERT_TRUE(r.memory.has_value());
  expect_close(r.memory->read_x, 729 * (7 + 9.0 / 9) * bit);
  expect_close(r.memory->read_y, 486 * (7 + 9.0 / 9) * bit);
  expect_close(r.memory->write_out, 27 * 32 * bit);
  expect_close(*r.designs.at("mls").memory, ((729 + 486) * 8 + 27 * 32 + 64) * bit);
  expect_close(*r.designs.at("fp32").memory, ((729 + 486) * 32 + 27 * 32) * bit);
  expect_close(*r.designs.at("fp8").memory, ((729 + 486) * 8 + 64 + 27 * 32) * bit);
  expect_close(*r.designs.at("fp8-fp16acc").memory, ((729 + 486) * 8 + 64 + 27 * 16) * bit);
  expect_close(*r.designs.at("bf16").memory, ((729 + 486) * 16 + 27 * 32) * bit);
  expect_close(*r.designs.at("mls").total(), mls + ((729 + 486) * 8 + 27 * 32 + 64) * bit);
  expect_close(r.total_over_mls("fp32"),
               (729 * 3.7 + 810 * 0.9 + ((729 + 486) * 32 + 27 * 32) * bit) / *r.designs.at("mls").total());
  EXPECT_EQ(r.unit, "pJ");
}

// With the memory system's traffic: the array's buffer accesses, the fills
// (DRAM read, buffer write) and drains (buffer read, DRAM write), at each
// design's word widths; scales in their own streams.
TEST(EnergyTables, Horowitz45nmPricesTrafficPerLevel) {
  const PassWidths w = e2m4_widths();
  MemoryTraffic t;
  t.buffer = {729, 81, 486, 54, 27};
  t.dram = StreamCounts{243, 27, 27, 3, 27};
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("horowitz-45nm"), &w, {}, &t);
  const double sram = 10.0 / 64, dram = 1300.0 / 64;  // 8 KB SRAM and DRAM, per bit of a 64-bit access
  // MLS: 7-bit elements, 9-bit group scales, fp32 outputs, two fp32 tensor scales.
  const double array_x = 729 * 7 + 81 * 9, array_y = 486 * 7 + 54 * 9, array_out = 27 * 32;
  const double fill_x = 243 * 7 + 27 * 9, fill_y = 27 * 7 + 3 * 9, drain = 27 * 32;
  const double buffer = (array_x + array_y + 64 + drain) * sram + (array_out + fill_x + fill_y) * sram;
  const double dram_energy = (fill_x + fill_y + drain) * dram;
  ASSERT_TRUE(r.memory.has_value());
  expect_close(r.memory->buffer, buffer);
  expect_close(r.memory->dram, dram_energy);
  expect_close(r.memory->read_x, array_x * sram + fill_x * sram + fill_x * dram);
  expect_close(*r.designs.at("mls").memory, buffer + dram_energy);
  // fp32: 32-bit words everywhere, no scales.
  const double fp32_buffer = ((729 + 486) * 32 + 27 * 32) * sram + (27 * 32 + (243 + 27) * 32) * sram;
  const double fp32_dram = ((243 + 27) * 32 + 27 * 32) * dram;
  expect_close(*r.designs.at("fp32").memory, fp32_buffer + fp32_dram);
  // fp8-fp16acc: 8-bit operands, fp16 outputs, the tensor scales.
  const double f16_buffer = ((729 + 486) * 8 + 64 + 27 * 16) * sram + (27 * 16 + (243 + 27) * 8) * sram;
  const double f16_dram = ((243 + 27) * 8 + 27 * 16) * dram;
  expect_close(*r.designs.at("fp8-fp16acc").memory, f16_buffer + f16_dram);
}

TEST(Report, TrafficFromEntry) {
  json entry = {{"traffic", {{"dram_read_bytes", 0},
                             {"elements", {{"x_buffer_read", 729}, {"x_scale_buffer_read", 81}, {"y_buffer_read", 486},
                                           {"y_scale_buffer_read", 54}, {"out_buffer_write", 27}, {"x_dram_read", 243},
                                           {"x_scale_dram_read", 27}, {"y_dram_read", 27}, {"y_scale_dram_read", 3},
                                           {"out_dram_write", 27}}}}}};
  const auto t = entry_traffic(entry, "r.json");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->buffer.y_scale, 54);
  ASSERT_TRUE(t->dram.has_value());
  EXPECT_EQ(t->dram->out, 27);
  EXPECT_FALSE(entry_traffic(json{{"events", 1}}, "r.json").has_value());
  entry["traffic"]["elements"].erase("y_dram_read");
  expect_error([&] { entry_traffic(entry, "r.json"); }, {"r.json", "traffic.elements.y_dram_read", "missing"});
  entry["traffic"]["elements"]["y_dram_read"] = -4;
  expect_error([&] { entry_traffic(entry, "r.json"); }, {"r.json", "traffic.elements.y_dram_read", "negative"});
}

TEST(EnergyTables, GatingSavesGatedEventsTimesPriceDifference) {
  const HorowitzByHand h;
  const PassWidths w = e2m4_widths();
  const EnergyTable table = builtin_energy_table("horowitz-45nm");
  const EnergyResult full = compute_energy(conv3x3_events(), table, &w);
  const EnergyResult gated = compute_energy(conv3x3_events(), table, &w, EnergyOptions{true});
  const double mul = h.mul_op + 25 * h.pp_bit + h.mux_bit * 3 * 14;
  // 288 zero-operand products; a gated multiply and add keep 10% of their energy.
  expect_close(full.mls() - gated.mls(), 288 * (mul + h.add(16)) * (1 - 0.1));
  EXPECT_EQ(*full.designs.at("fp32").arithmetic, *gated.designs.at("fp32").arithmetic);  // baselines ungated
  EXPECT_TRUE(gated.gating);
  expect_error([&] { compute_energy(conv3x3_events(), builtin_energy_table("paper-unit"), nullptr, {true}); },
               {"--gating", "paper-unit", "gated"});
}

TEST(EnergyTables, WidthAwareTableNeedsWidths) {
  expect_error([] { compute_energy(conv3x3_events(), builtin_energy_table("mac-65nm"), nullptr); },
               {"operand formats"});
}

TEST(EnergyTables, EnergyJsonKeys) {
  const PassWidths w = e2m4_widths();
  const json energy = energy_to_json(compute_energy(conv3x3_events(), builtin_energy_table("horowitz-45nm"), &w));
  std::set<std::string> keys;
  for (const auto& item : energy.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"tech", "unit", "gating", "mls", "fp32", "fp8", "fp8-fp16acc", "bf16",
                                         "fp32_over_mls", "fp8_over_mls", "fp8-fp16acc_over_mls", "bf16_over_mls",
                                         "by_block", "memory", "total", "total_fp32_over_mls", "total_fp8_over_mls",
                                         "total_fp8-fp16acc_over_mls", "total_bf16_over_mls", "actions", "vector"}));
  std::set<std::string> blocks;
  for (const auto& item : energy["by_block"].items()) blocks.insert(item.key());
  EXPECT_EQ(blocks, (std::set<std::string>{"multiplier", "local_accumulator", "group_scaler", "adder_tree",
                                           "output_accumulator", "final_scale", "vector"}));
  // No vector work in these events: the vector unit is priced at 0 in every design.
  for (const char* design : {"mls", "fp32", "fp8", "fp8-fp16acc", "bf16"}) {
    EXPECT_EQ(energy["vector"][design].get<double>(), 0.0);
    expect_close(energy["total"][design].get<double>(),
                 energy[design].get<double>() + energy["memory"][design].get<double>());
  }
}

TEST(EnergyTables, EmptyWorkloadHasNullRatios) {
  const EnergyResult r = compute_energy(Stats{}, builtin_energy_table("paper-unit"), nullptr);
  EXPECT_EQ(r.mls(), 0.0);
  EXPECT_TRUE(std::isnan(r.over_mls("fp32")));
  const json energy = energy_to_json(r);
  EXPECT_TRUE(energy["fp32_over_mls"].is_null());
  EXPECT_TRUE(energy["fp8_over_mls"].is_null());
  EXPECT_TRUE(energy["memory"].is_null());
  EXPECT_TRUE(energy["total"].is_null());
}

// ---------------------------------------------------------------------------
// User tables

TEST(UserTables, FlatJsonFile) {
  TempDir dir;
  const std::string path = dir.file("t7.json", R"({"tech": "7nm guess", "unit": "pJ", "energy": {
      "lowbit_mul": 0.05, "fp32_mul": 1, "fp32_add": 0.25, "int_acc_add": 0.01,
      "shift_add_scale": 0.02, "fp8_mul": 0.08, "bf16_mul": 0.3, "fp16_add": 0.1,
      "buffer_read_bit": 0.5, "buffer_write_bit": 2}})");
  const EnergyTable t = load_energy_table(path);
  EXPECT_EQ(t.tech, "7nm guess");
  EXPECT_EQ(t.unit, "pJ");
  EXPECT_EQ(t.name, path);
  const PassWidths w = e2m4_widths();
  const EnergyResult r = compute_energy(conv3x3_events(), t, &w);
  expect_close(r.mls(), 729 * 0.05 + 729 * 0.01 + 81 * 0.02 + 27 * 0.25 + 54 * 0.25 + 27 * 1.0);
  expect_close(*r.designs.at("fp8").arithmetic, 729 * 0.08 + 810 * 0.25 + 27 * 1.0);
  expect_close(*r.designs.at("fp8-fp16acc").arithmetic, 729 * 0.08 + 810 * 0.1 + 27 * 1.0);
  expect_close(*r.designs.at("bf16").arithmetic, 729 * 0.3 + 810 * 0.25);
  expect_close(r.memory->total(), (729 + 486) * 8 * 0.5 + 64 * 0.5 + 27 * 32 * 2.0);
}

TEST(UserTables, WidthAwareYamlFile) {
  TempDir dir;
  const std::string path = dir.file("mytech.yaml",
                                    "unit: pJ\n"
                                    "coefficients:\n"
                                    "  int_add_op: 1\n  int_add_bit: 0.5\n  int_mul_op: 2\n  int_mul_pp_bit: 0.25\n"
                                    "  shift_mux_bit: 0.125\n  fp_add_bit: 0.1\n  fp_add_align_bit: 0.01\n"
                                    "  fp_mul_bit: 0.2\n  fp_mul_pp_bit: 0.02\n");
  const EnergyTable t = load_energy_table(path);
  EXPECT_EQ(t.tech, "mytech");  // no "tech": the file's stem
  EXPECT_EQ(t.model, EnergyTable::Model::width_aware);
  const PassWidths w = e2m4_widths();
  const EnergyResult r = compute_energy(conv3x3_events(), t, &w);
  expect_close(r.by_block.multiplier, 729 * (2 + 0.25 * 25 + 0.125 * 3 * 14));
  expect_close(r.by_block.adder_tree, 27 * (0.1 * 32 + 0.01 * 24 * 5));
  EXPECT_FALSE(r.memory.has_value());
  EXPECT_FALSE(t.prices_gating());
}

const char* kFullEnergy =
    R"("lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9, "int_acc_add": 0.05, "shift_add_scale": 0.05)";
const char* kFullCoefficients =
    R"("int_add_op": 0.01, "int_add_bit": 0.003, "int_mul_op": 0.01, "int_mul_pp_bit": 0.003, "shift_mux_bit": 0.001,
       "fp_add_bit": 0.02, "fp_add_align_bit": 0.003, "fp_mul_bit": 0.03, "fp_mul_pp_bit": 0.004)";

std::string table_text(const std::string& unit, const std::string& energy_body, const std::string& extra = "",
                       const std::string& key = "energy") {
  return "{\"tech\": \"x\", \"unit\": \"" + unit + "\", \"" + key + "\": {" + energy_body + "}" + extra + "}";
}

TEST(UserTables, ValidationErrors) {
  TempDir dir;
  auto load = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.file(name, text);
    return [path] { load_energy_table(path); };
  };
  const std::string full = kFullEnergy, coeffs = kFullCoefficients;
  expect_error(load("a.json", table_text("pJ", full + R"(, "fp64_mul": 9)")), {"a.json", "fp64_mul", "unknown action"});
  expect_error(load("b.json", table_text("pJ", R"("lowbit_mul": -0.2, "fp32_mul": 3.7, "fp32_add": 0.9,
      "int_acc_add": 0.05, "shift_add_scale": 0.05)")), {"b.json", "lowbit_mul", "non-negative"});
  expect_error(load("c.json", table_text("pJ", R"("lowbit_mul": "cheap", "fp32_mul": 3.7, "fp32_add": 0.9,
      "int_acc_add": 0.05, "shift_add_scale": 0.05)")), {"c.json", "lowbit_mul", "number"});
  expect_error(load("d.json", table_text("pJ", R"("lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9,
      "int_acc_add": 0.05)")), {"d.json", "shift_add_scale", "missing"});
  expect_error(load("e.json", table_text("fJ", full)), {"e.json", "unit", "fJ"});
  expect_error(load("f.json", table_text("pJ", full, R"(, "units": "pJ")")), {"f.json", "units", "unknown key"});
  expect_error(load("g.json", R"({"tech": "x", "energy": {)" + full + "}}"), {"g.json", "unit", "missing"});
  expect_error(load("h.json", "{\"unit\": \"pJ\", \"energy\": "), {"h.json", "not valid JSON"});
  expect_error(load("i.yaml", "unit: pJ\nenergy: [1, 2\n"), {"i.yaml", "not valid YAML"});
  expect_error(load("j.yaml", "unit: pJ\nenergy:\n  lowbit_mul: two\n"), {"j.yaml", "lowbit_mul", "number"});
  expect_error(load("k.json", table_text("pJ", full + R"(, "buffer_read_bit": 1)")), {"k.json", "buffer_write_bit"});
  expect_error(load("l.json", table_text("pJ", full + R"(, "buffer_read": 1)")), {"l.json", "buffer_read_bit"});
  expect_error(load("m.json", table_text("pJ", full + R"(, "gated_mul": 0.01)")), {"m.json", "gated_acc_add"});
  expect_error(load("m2.json", table_text("pJ", full + R"(, "dram_read_bit": 20, "dram_write_bit": 20)")),
               {"m2.json", "dram_read_bit", "buffer"});
  // Width-aware tables: a missing, negative or unknown coefficient.
  expect_error(load("n.json", table_text("pJ", R"("int_add_op": 0.01)", "", "coefficients")),
               {"n.json", "coefficients.int_add_bit", "missing"});
  expect_error(load("o.json", table_text("pJ", coeffs + R"(, "fp_mul_pp_bit": -1)", "", "coefficients")),
               {"o.json", "coefficients.fp_mul_pp_bit", "non-negative"});
  expect_error(load("p.json", table_text("pJ", coeffs + R"(, "int_div_bit": 1)", "", "coefficients")),
               {"p.json", "int_div_bit", "unknown coefficient"});
  expect_error(load("q.json", table_text("pJ", coeffs + R"(, "sram_read_bit": 1)", "", "coefficients")),
               {"q.json", "sram_write_bit"});
  expect_error(load("r.json", "{\"unit\": \"pJ\", \"energy\": {" + full + "}, \"coefficients\": {" + coeffs + "}}"),
               {"r.json", "exactly one"});
}

TEST(UserTables, UnknownNameListsBuiltins) {
  expect_error([] { load_energy_table("horowitz-7nm"); },
               {"horowitz-7nm", "paper-unit", "horowitz-45nm", "mac-65nm"});
}

// ---------------------------------------------------------------------------
// ERT: exported actions read back as a flat table price the same energy.

TEST(Ert, RoundTripPricesTheSame) {
  TempDir dir;
  const PassWidths w = e2m4_widths();
  const EnergyTable horowitz = builtin_energy_table("horowitz-45nm");
  const std::string text = export_ert(horowitz, w, "a test design");
  EXPECT_NE(text.find("ERT:"), std::string::npos);
  EXPECT_NE(text.find("name: mls_array.multiplier"), std::string::npos);
  const EnergyTable back = load_energy_table(dir.file("design.ert.yaml", text));
  EXPECT_EQ(back.model, EnergyTable::Model::flat);
  const EnergyResult a = compute_energy(conv3x3_events(), horowitz, &w, {true});
  const EnergyResult b = compute_energy(conv3x3_events(), back, &w, {true});
  expect_close(b.mls(), a.mls());
  for (const char* design : {"fp32", "fp8", "fp8-fp16acc", "bf16"}) {
    expect_close(*b.designs.at(design).arithmetic, *a.designs.at(design).arithmetic);
    expect_close(*b.designs.at(design).memory, *a.designs.at(design).memory);
  }
  expect_error([&] { export_ert(builtin_energy_table("paper-unit"), w, "x"); }, {"relative", "pJ"});
}

TEST(Ert, BadErtsAreRefused) {
  TempDir dir;
  auto load = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.file(name, text);
    return [path] { load_energy_table(path); };
  };
  const std::string head = "ERT:\n  version: '0.3'\n  tables:\n";
  expect_error(load("a.yaml", head + "  - name: mls_array.multiplier\n    actions:\n"
                                     "    - {name: mul, arguments: null, energy: 0.1}\n"),
               {"a.yaml", "missing", "mls_array.local_accumulator/add"});
  expect_error(load("b.yaml", head + "  - name: mls_array.divider\n    actions:\n"
                                     "    - {name: div, arguments: null, energy: 0.1}\n"),
               {"b.yaml", "ERT.tables[0].actions[0]", "unknown action", "mls_array.divider/div"});
  expect_error(load("c.yaml", head + "  - name: mls_array.multiplier\n    actions:\n"
                                     "    - {name: mul, arguments: null, energy: -1}\n"),
               {"c.yaml", "ERT.tables[0].actions[0].energy", "non-negative"});
  expect_error(load("d.yaml", "ERT:\n  tables: [\n"), {"d.yaml", "not valid YAML"});
  expect_error(load("e.yaml", head + "  - name: mls_array.multiplier\n    actions:\n"
                                     "    - {name: mul, arguments: {width: 8}, energy: 1}\n"),
               {"e.yaml", "arguments"});
}

// ---------------------------------------------------------------------------
// Events and reports

TEST(Events, FromJson) {
  const Stats s = events_from_json(stats_json(conv3x3_events()), "r.json");
  EXPECT_EQ(s.mul, 729u);
  EXPECT_EQ(s.read_y, 486u);
  EXPECT_EQ(s.mul_zero, 288u);
}

TEST(Events, Errors) {
  json events = stats_json(conv3x3_events());
  events["utilization"] = 0.5;  // not a counter: ignored
  EXPECT_NO_THROW(events_from_json(events, "r.json"));
  json negative = events;
  negative["scale"] = -1;
  expect_error([&] { events_from_json(negative, "r.json"); }, {"r.json", "events.scale", "negative"});
  json fraction = events;
  fraction["tree_add"] = 2.5;
  expect_error([&] { events_from_json(fraction, "r.json"); }, {"r.json", "events.tree_add", "integer"});
  json text = events;
  text["mul"] = "729";
  expect_error([&] { events_from_json(text, "r.json"); }, {"r.json", "events.mul", "integer"});
  json missing = events;
  missing.erase("out_acc");
  expect_error([&] { events_from_json(missing, "r.json"); }, {"r.json", "events.out_acc", "missing"});
  expect_error([&] { events_from_json(json::array(), "r.json"); }, {"r.json", "events"});
}

// Two layer-passes (the conv layer fwd, and a made-up bwd-weight pass with every
// count doubled) and their total.
// The first entry names its widths ("formats", as `mlssim run` writes); the
// second has none and takes the report's config (its operand roles: E x A).
json small_report() {
  Stats doubled = conv3x3_events();
  doubled += conv3x3_events();
  Stats total = doubled;
  total += conv3x3_events();
  const json e2m4 = {{"elem", "e2m4"}, {"scale", "e8m1"}};
  return {{"config", {{"rows", 2}, {"cols", 2}, {"chunk", 16}, {"acc_bits", 16}, {"elem", "e2m4"}, {"scale", "e8m1"},
                      {"operands", {{"grad_output", {{"elem", "e3m2"}, {"scale", "e8m1"}}}}}}},
          {"layers",
           {{{"name", "conv1"}, {"pass", "fwd"}, {"cycles", 324}, {"k", 9},
             {"formats", {{"x", e2m4}, {"y", e2m4}, {"acc_bits", 16}}}, {"events", stats_json(conv3x3_events())}},
            {{"name", "conv1"}, {"pass", "bwd-weight"}, {"cycles", 648}, {"k", 9}, {"events", stats_json(doubled)}}}},
          {"total", {{"cycles", 972}, {"events", stats_json(total)}}}};
}

TEST(Report, EntryWidths) {
  const json report = small_report();
  const auto fwd = entry_widths(report["layers"][0], report, "r.json");
  ASSERT_TRUE(fwd.has_value());
  EXPECT_EQ(fwd->x_elem.name(), "e2m4");
  EXPECT_EQ(fwd->group_len, 9);
  const auto bwd = entry_widths(report["layers"][1], report, "r.json");
  ASSERT_TRUE(bwd.has_value());
  EXPECT_EQ(bwd->x_elem.name(), "e3m2");  // bwd-weight's X is grad_output
  EXPECT_EQ(bwd->y_elem.name(), "e2m4");  // its Y the input, at the plain format
  json bad = report;
  bad["layers"][0]["formats"]["x"]["elem"] = "e9m9";
  expect_error([&] { entry_widths(bad["layers"][0], bad, "r.json"); }, {"r.json", "formats.x", "e9m9"});
  json none = report;
  none.erase("config");
  EXPECT_FALSE(entry_widths(none["layers"][1], none, "r.json").has_value());
}

TEST(Report, AddEnergyPaperUnit) {
  const json out = add_energy_to_report(small_report(), builtin_energy_table("paper-unit"), "r.json");
  const double mls = 729 * (4.0 / 7) + 729 / 20.0 + 81 / 20.0 + 27 + 54 + 27 * 4;
  const double fp32 = 729 * 4.0 + 810 * 1.0;
  expect_close(out["layers"][0]["energy"]["mls"].get<double>(), mls);
  expect_close(out["layers"][1]["energy"]["mls"].get<double>(), 2 * mls);
  expect_close(out["layers"][1]["energy"]["fp32"].get<double>(), 2 * fp32);
  expect_close(out["total"]["energy"]["mls"].get<double>(), 3 * mls);
  expect_close(out["total"]["energy"]["fp32_over_mls"].get<double>(), fp32 / mls);
  EXPECT_TRUE(out["total"]["energy"]["bf16"].is_null());
  EXPECT_TRUE(out["total"]["energy"]["total"].is_null());
  expect_close(out["layers"][0]["energy"]["by_block"]["group_scaler"].get<double>(), 81 / 20.0);
  EXPECT_EQ(out["total"]["energy"]["tech"], "paper-unit (relative to one fp32 add)");
  EXPECT_FALSE(out["layers"][0].contains("memory_energy"));
  EXPECT_FALSE(out["total"].contains("memory_energy"));
  EXPECT_EQ(out["energy_table"]["name"], "paper-unit");
  EXPECT_EQ(out["layers"][0]["cycles"], 324);  // the rest of the report is kept
  EXPECT_EQ(out["config"]["rows"], 2);
}

TEST(Report, AddEnergyWithMemory) {
  const json out = add_energy_to_report(small_report(), builtin_energy_table("horowitz-45nm"), "r.json");
  const double bit = 10.0 / 64;
  // fwd: e2m4 X and Y (8 bits with the group-scale share); bwd-weight: e3m2 X
  // (6 + 1 bits), e2m4 Y; each reads two fp32 tensor scales.
  const double fwd = ((729 + 486) * 8 + 27 * 32 + 64) * bit;
  const double bwd = (2 * 729 * 7 + 2 * 486 * 8 + 2 * 27 * 32 + 64) * bit;
  expect_close(out["layers"][0]["memory_energy"]["total"].get<double>(), fwd);
  expect_close(out["layers"][1]["memory_energy"]["read_y"].get<double>(), 2 * 486 * 8 * bit);
  expect_close(out["total"]["memory_energy"]["total"].get<double>(), fwd + bwd);
  expect_close(out["total"]["energy"]["memory"]["mls"].get<double>(), fwd + bwd);
  expect_close(out["total"]["energy"]["total"]["mls"].get<double>(),
               out["total"]["energy"]["mls"].get<double>() + fwd + bwd);
  EXPECT_FALSE(out["total"]["energy"].contains("actions"));  // prices are per pass
  EXPECT_TRUE(out["layers"][0]["energy"].contains("actions"));
}

// An unquantized entry is priced at one fp32 multiply and one fp32 add per
// MAC in every design; the total adds it to the arithmetic and leaves the
// memory of the simulated entries alone.
TEST(Report, UnquantizedEntriesArePricedInFp32) {
  json report = small_report();
  report["layers"].push_back({{"name", "fc"}, {"pass", "fwd"}, {"unquantized", true}, {"macs", 1000}});
  const json out = add_energy_to_report(report, builtin_energy_table("paper-unit"), "r.json");
  const double mls = 729 * (4.0 / 7) + 729 / 20.0 + 81 / 20.0 + 27 + 54 + 27 * 4;
  const double fp32 = 729 * 4.0 + 810 * 1.0;
  const double fp8 = 729 * (4.0 / 7) + 810 * 1.0 + 27 * 4.0;
  const double fc = 1000 * (4.0 + 1.0);
  const json& e = out["layers"][2]["energy"];
  expect_close(e["mls"].get<double>(), fc);
  expect_close(e["fp32"].get<double>(), fc);
  expect_close(e["fp8"].get<double>(), fc);
  expect_close(e["by_block"]["unquantized"].get<double>(), fc);
  expect_close(e["by_block"]["multiplier"].get<double>(), 0.0);
  const json& t = out["total"]["energy"];
  expect_close(t["mls"].get<double>(), 3 * mls + fc);
  expect_close(t["fp32_over_mls"].get<double>(), (3 * fp32 + fc) / (3 * mls + fc));
  expect_close(t["fp8_over_mls"].get<double>(), (3 * fp8 + fc) / (3 * mls + fc));
  expect_close(t["by_block"]["unquantized"].get<double>(), fc);
  EXPECT_FALSE(out["layers"][0]["energy"]["by_block"].contains("unquantized"));

  const json priced = add_energy_to_report(report, builtin_energy_table("horowitz-45nm"), "r.json");
  const double h_fc = 1000 * (3.7 + 0.9);  // Horowitz's fp32 multiply and add
  EXPECT_NEAR(priced["layers"][2]["energy"]["fp32"].get<double>(), h_fc, 1e-9 * h_fc);
  EXPECT_TRUE(priced["layers"][2]["energy"]["memory"].is_null());
  EXPECT_FALSE(priced["layers"][2].contains("memory_energy"));
  const double memory = priced["layers"][0]["memory_energy"]["total"].get<double>() +
                        priced["layers"][1]["memory_energy"]["total"].get<double>();
  expect_close(priced["total"]["memory_energy"]["total"].get<double>(), memory);

  report["layers"][2].erase("macs");
  EXPECT_THROW(add_energy_to_report(report, builtin_energy_table("paper-unit"), "r.json"), Error);
}

// With its fp32_words, an unquantized entry's compulsory traffic is priced at
// 32 bits a word, the same in every design, and the total's memory adds it.
TEST(Report, UnquantizedWordsArePricedAsFp32Traffic) {
  json report = small_report();
  report["layers"].push_back({{"name", "fc"},
                              {"pass", "fwd"},
                              {"unquantized", true},
                              {"macs", 1000},
                              {"fp32_words", {{"x", 100}, {"y", 10}, {"out", 10}}}});
  const json without_fc = add_energy_to_report(small_report(), builtin_energy_table("horowitz-45nm"), "r.json");
  const json out = add_energy_to_report(report, builtin_energy_table("horowitz-45nm"), "r.json");
  const double bit = 10.0 / 64;  // Horowitz's 64-bit SRAM access, read and write alike
  const double words = (100 + 10 + 10) * 32 * bit;
  const json& e = out["layers"][2]["energy"];
  for (const char* design : {"mls", "fp32", "fp8", "fp8-fp16acc", "bf16"}) {
    expect_close(e["memory"][design].get<double>(), words);
    expect_close(out["total"]["energy"]["memory"][design].get<double>(),
                 without_fc["total"]["energy"]["memory"][design].get<double>() + words);
  }
  expect_close(out["layers"][2]["memory_energy"]["read_x"].get<double>(), 100 * 32 * bit);
  expect_close(out["layers"][2]["memory_energy"]["write_out"].get<double>(), 10 * 32 * bit);
  expect_close(e["total"]["mls"].get<double>(), 1000 * (3.7 + 0.9) + words);

  report["layers"][2]["fp32_words"].erase("out");
  EXPECT_THROW(add_energy_to_report(report, builtin_energy_table("horowitz-45nm"), "r.json"), Error);
  report["layers"][2]["fp32_words"] = {{"x", -1}, {"y", 1}, {"out", 1}};
  EXPECT_THROW(add_energy_to_report(report, builtin_energy_table("horowitz-45nm"), "r.json"), Error);
}

// A flat table prices the multiplier form of the group scaler (a scale
// mantissa of 2+ bits on either operand) at mul_scale, else at shift_add_scale.
TEST(EnergyTables, FlatTablePricesTheScalerForm) {
  const EnergyTable paper = builtin_energy_table("paper-unit");
  PassWidths w;
  EXPECT_DOUBLE_EQ(paper.prices_at(w).group_scale, 1.0 / 20);
  w.y_scale = ScaleFormat{4, 3};
  EXPECT_DOUBLE_EQ(paper.prices_at(w).group_scale, 4.0 / 7);
  EnergyTable without = paper;
  without.energy.erase("mul_scale");
  EXPECT_DOUBLE_EQ(without.prices_at(w).group_scale, 1.0 / 20);
}

TEST(Report, MissingTotalIsSummed) {
  json report = small_report();
  report.erase("total");
  const json out = add_energy_to_report(report, builtin_energy_table("paper-unit"), "r.json");
  EXPECT_EQ(out["total"]["events"]["mul"], 3 * 729);
  const double mls = 729 * (4.0 / 7) + 729 / 20.0 + 81 / 20.0 + 27 + 54 + 27 * 4;
  expect_close(out["total"]["energy"]["mls"].get<double>(), 3 * mls);
}

TEST(Report, MalformedReports) {
  const EnergyTable paper = builtin_energy_table("paper-unit");
  json no_layers = small_report();
  no_layers.erase("layers");
  expect_error([&] { add_energy_to_report(no_layers, paper, "r.json"); }, {"r.json", "layers"});
  json no_events = small_report();
  no_events["layers"][1].erase("events");
  expect_error([&] { add_energy_to_report(no_events, paper, "r.json"); },
               {"r.json", "layers[1] conv1 bwd-weight", "events"});
  json negative = small_report();
  negative["layers"][0]["events"]["mul"] = -5;
  expect_error([&] { add_energy_to_report(negative, paper, "r.json"); }, {"r.json", "layers[0]", "events.mul"});
  json no_widths = small_report();
  no_widths.erase("config");
  expect_error([&] { add_energy_to_report(no_widths, builtin_energy_table("mac-65nm"), "r.json"); },
               {"r.json", "layers[1] conv1 bwd-weight", "operand formats"});
  expect_error([&] { add_energy_to_report(json::array(), paper, "r.json"); }, {"r.json"});
}

// ---------------------------------------------------------------------------
// The `energy` command

TEST(Command, WritesEnergyJson) {
  TempDir dir;
  const std::string report = dir.file("report.json", small_report().dump());
  const std::string out = dir.path("energy.json");
  ASSERT_EQ(cmd_energy({report, "--tech", "horowitz-45nm", "--out", out}), 0);
  std::ifstream in(out);
  const json written = json::parse(in);
  EXPECT_TRUE(written["layers"][0].contains("energy"));
  EXPECT_TRUE(written["total"].contains("memory_energy"));
  EXPECT_EQ(written["energy_table"]["name"], "horowitz-45nm");
}

TEST(Command, BadInputsFailWithoutOutput) {
  // Commands throw mls::Error on bad input; main() prints it and exits 1.
  TempDir dir;
  const std::string out = dir.path("energy.json");
  const std::string not_json = dir.file("bad.json", "{\"layers\": [");
  EXPECT_THROW(cmd_energy({not_json, "--out", out}), Error);
  json negative = small_report();
  negative["layers"][0]["events"]["acc_add"] = -1;
  const std::string bad_count = dir.file("neg.json", negative.dump());
  EXPECT_THROW(cmd_energy({bad_count, "--out", out}), Error);
  const std::string good = dir.file("report.json", small_report().dump());
  EXPECT_THROW(cmd_energy({good, "--tech", "no-such-table", "--out", out}), Error);
  EXPECT_THROW(cmd_energy({"--out", out}), Error);  // no report
  EXPECT_THROW(cmd_energy({good, "--bogus"}), Error);
  EXPECT_THROW(cmd_energy({good, "--gating", "--out", out}), Error);  // paper-unit prices no gating
  EXPECT_THROW(cmd_energy({good, "--tech", "paper-unit", "--export-ert", out}), Error);  // not pJ
  EXPECT_FALSE(fs::exists(out));
}

TEST(Command, ExportsErtFromFlagsOrReport) {
  TempDir dir;
  const std::string ert = dir.path("design.yaml");
  ASSERT_EQ(cmd_energy({"--export-ert", ert, "--tech", "mac-65nm", "--elem", "e2m1", "--acc-bits", "16"}), 0);
  const EnergyTable back = load_energy_table(ert);
  expect_close(back.at("lowbit_mul"), 0.192);  // the quoted MLS design figure at its widths
  expect_close(back.at("int_acc_add"), 0.094);
  expect_close(back.at("fp32_mul"), 5.32);
  const std::string report = dir.file("report.json", small_report().dump());
  const std::string ert2 = dir.path("bwd.yaml");
  ASSERT_EQ(cmd_energy({report, "--tech", "horowitz-45nm", "--export-ert", ert2, "--pass", "bwd-weight"}), 0);
  EXPECT_GT(load_energy_table(ert2).at("lowbit_mul"), 0.0);
  EXPECT_THROW(cmd_energy({report, "--tech", "horowitz-45nm", "--export-ert", dir.path("x.yaml"), "--elem", "e2m1"}),
               Error);  // a report's design is the report's
}

TEST(Command, SummaryHasOneRowPerEntry) {
  const json out = add_energy_to_report(small_report(), builtin_energy_table("paper-unit"), "r.json");
  const std::string text = format_energy_summary(out);
  EXPECT_NE(text.find("bwd-weight"), std::string::npos);
  EXPECT_NE(text.find("total"), std::string::npos);
  EXPECT_NE(text.find("5.767"), std::string::npos);  // fp32/MLS = 1932/335
  EXPECT_NE(text.find("arithmetic only"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);  // title, header, 2 layers, total
}

}  // namespace
}  // namespace mls
