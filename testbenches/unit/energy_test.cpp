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
// Built-in tables

TEST(EnergyTables, BuiltinNames) {
  EXPECT_EQ(builtin_energy_table_names(), (std::vector<std::string>{"paper-unit", "horowitz-45nm", "mac-65nm"}));
  EXPECT_EQ(builtin_energy_table("paper-unit").unit, "relative");
  EXPECT_EQ(builtin_energy_table("horowitz-45nm").unit, "pJ");
  EXPECT_EQ(builtin_energy_table("mac-65nm").unit, "pJ");
}

TEST(EnergyTables, BuiltinValues) {
  const EnergyTable horowitz = builtin_energy_table("horowitz-45nm");
  expect_close(horowitz.at("int_acc_add"), 0.03 + (0.1 - 0.03) * 8 / 24);  // int16: linear in width
  expect_close(horowitz.at("buffer_read"), 10.0 / 8);   // 8 KB SRAM 64-bit read, 8 elements per word
  expect_close(horowitz.at("buffer_write"), 10.0 / 2);  // 2 fp32 outputs per word
  EXPECT_FALSE(horowitz.prices("fp8_mul"));
  const EnergyTable mac = builtin_energy_table("mac-65nm");
  expect_close(mac.at("fp8_mul"), 0.23);
  EXPECT_FALSE(mac.prices_memory());
  EXPECT_FALSE(builtin_energy_table("paper-unit").prices_memory());
}

TEST(EnergyTables, PaperUnitConvLayer) {
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("paper-unit"));
  expect_close(r.by_block.multiplier, 729 * (4.0 / 7));
  expect_close(r.by_block.local_accumulator, 729 * (1.0 / 20));
  expect_close(r.by_block.group_scaler, 81 * (1.0 / 20));
  expect_close(r.by_block.adder_tree, 27 * 1.0);
  expect_close(r.by_block.output_accumulator, 54 * 1.0);
  expect_close(r.by_block.final_scale, 27 * 4.0);
  const double mls = 729 * (4.0 / 7) + 729 / 20.0 + 81 / 20.0 + 27 + 54 + 27 * 4;  // 646.0714...
  const double fp32 = 729 * 4.0 + (729 + 27 + 54) * 1.0;                         // 3726
  const double fp8 = 729 * (4.0 / 7) + (729 + 27 + 54) * 1.0 + 27 * 4.0;          // 1334.571...
  expect_close(r.mls, mls);
  expect_close(r.fp32, fp32);
  expect_close(r.fp8, fp8);
  expect_close(r.fp32_over_mls(), fp32 / mls);
  expect_close(r.fp8_over_mls(), fp8 / mls);
  EXPECT_FALSE(r.memory.has_value());
  EXPECT_EQ(r.unit, "relative");
}

// docs/energy.md: forward 3x3 conv, chunk 16, paper-unit:
//   fp32/MLS = 644 Ci / (93 Ci + 56),  fp8/MLS = (212 Ci + 56) / (93 Ci + 56),
// independent of M, P, R. Checked for Ci = 3 on 2 x 2 and Ci = 64 on 16 x 16.
TEST(EnergyTables, PaperUnitRatioMatchesClosedForm) {
  const EnergyTable paper = builtin_energy_table("paper-unit");
  expect_close(compute_energy(conv3x3_events(), paper).fp32_over_mls(), 644.0 * 3 / (93 * 3 + 56));
  // Co = 32, N*Ho*Wo = 64, Ci = 64, R = 16: T = 4 chunk tiles of 16 chunks.
  Stats s;
  s.mul = s.acc_add = 32 * 64 * 64 * 9;
  s.scale = 32 * 64 * 64;
  s.tree_add = 32 * 64 * (64 - 4);  // 15 adds in each of 4 full tiles
  s.out_acc = 32 * 64 * 4;        // one per tree result
  s.final_mul = s.write_out = 32 * 64;
  const EnergyResult r = compute_energy(s, paper);
  expect_close(r.fp32_over_mls(), 644.0 * 64 / (93 * 64 + 56));
  expect_close(r.fp8_over_mls(), (212.0 * 64 + 56) / (93 * 64 + 56));
}

TEST(EnergyTables, Horowitz45nmConvLayer) {
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("horowitz-45nm"));
  const double int16_add = 0.03 + 0.07 * 8 / 24;  // 0.05333... pJ
  const double mls = 729 * 0.2 + 729 * int16_add + 81 * int16_add + 27 * 0.9 + 54 * 0.9 + 27 * 3.7;
  const double fp32 = 729 * 3.7 + 810 * 0.9;
  const double fp8 = 729 * 0.2 + 810 * 0.9 + 27 * 3.7;  // no fp8_mul: lowbit_mul (int8 mul)
  expect_close(r.by_block.local_accumulator, 729 * int16_add);
  expect_close(r.by_block.group_scaler, 81 * int16_add);
  expect_close(r.mls, mls);
  expect_close(r.fp32, fp32);
  expect_close(r.fp8, fp8);
  expect_close(r.fp32_over_mls(), fp32 / mls);
  expect_close(r.fp8_over_mls(), fp8 / mls);
  ASSERT_TRUE(r.memory.has_value());
  expect_close(r.memory->read_x, 729 * 1.25);
  expect_close(r.memory->read_y, 486 * 1.25);
  expect_close(r.memory->write_out, 27 * 5.0);
  expect_close(r.memory->total(), 729 * 1.25 + 486 * 1.25 + 27 * 5.0);
  EXPECT_EQ(r.unit, "pJ");
}

TEST(EnergyTables, Mac65nmConvLayer) {
  const EnergyResult r = compute_energy(conv3x3_events(), builtin_energy_table("mac-65nm"));
  const double mls = 729 * 0.192 + 729 * 0.094 + 81 * 0.094 + 27 * 1.40 + 54 * 1.40 + 27 * 5.32;
  const double fp32 = 729 * 5.32 + 810 * 1.40;
  const double fp8 = 729 * 0.23 + 810 * 1.40 + 27 * 5.32;  // fp8_mul 0.23, not lowbit_mul
  expect_close(r.by_block.multiplier, 729 * 0.192);
  expect_close(r.by_block.final_scale, 27 * 5.32);
  expect_close(r.mls, mls);
  expect_close(r.fp32, fp32);
  expect_close(r.fp8, fp8);
  expect_close(r.fp32_over_mls(), fp32 / mls);
  expect_close(r.fp8_over_mls(), fp8 / mls);
  EXPECT_FALSE(r.memory.has_value());
}

TEST(EnergyTables, MemoryIsNeverInArithmetic) {
  EnergyTable priced = builtin_energy_table("horowitz-45nm");
  EnergyTable unpriced = priced;
  unpriced.energy.erase("buffer_read");
  unpriced.energy.erase("buffer_write");
  const EnergyResult with = compute_energy(conv3x3_events(), priced);
  const EnergyResult without = compute_energy(conv3x3_events(), unpriced);
  EXPECT_EQ(with.mls, without.mls);
  EXPECT_EQ(with.fp32, without.fp32);
  EXPECT_EQ(with.fp8, without.fp8);
  const json energy = energy_to_json(with);
  EXPECT_FALSE(energy.contains("memory_energy"));
  const json memory = memory_energy_to_json(with);
  expect_close(memory["total"].get<double>(), 729 * 1.25 + 486 * 1.25 + 27 * 5.0);
}

TEST(EnergyTables, EnergyJsonHasExactlySpecKeys) {
  const json energy = energy_to_json(compute_energy(conv3x3_events(), builtin_energy_table("paper-unit")));
  std::set<std::string> keys;
  for (const auto& item : energy.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"tech", "unit", "mls", "fp32", "fp8", "fp32_over_mls", "fp8_over_mls",
                                         "by_block"}));
  std::set<std::string> blocks;
  for (const auto& item : energy["by_block"].items()) blocks.insert(item.key());
  EXPECT_EQ(blocks, (std::set<std::string>{"multiplier", "local_accumulator", "group_scaler", "adder_tree",
                                           "output_accumulator", "final_scale"}));
}

TEST(EnergyTables, EmptyWorkloadHasNullRatios) {
  const EnergyResult r = compute_energy(Stats{}, builtin_energy_table("paper-unit"));
  EXPECT_EQ(r.mls, 0.0);
  EXPECT_TRUE(std::isnan(r.fp32_over_mls()));
  const json energy = energy_to_json(r);
  EXPECT_TRUE(energy["fp32_over_mls"].is_null());
  EXPECT_TRUE(energy["fp8_over_mls"].is_null());
}

// ---------------------------------------------------------------------------
// User tables

TEST(UserTables, JsonFile) {
  TempDir dir;
  const std::string path = dir.file("t7.json", R"({"tech": "7nm guess", "unit": "pJ", "energy": {
      "lowbit_mul": 0.05, "fp32_mul": 1, "fp32_add": 0.25, "int_acc_add": 0.01,
      "shift_add_scale": 0.02, "fp8_mul": 0.08, "buffer_read": 0.5, "buffer_write": 2}})");
  const EnergyTable t = load_energy_table(path);
  EXPECT_EQ(t.tech, "7nm guess");
  EXPECT_EQ(t.unit, "pJ");
  EXPECT_EQ(t.name, path);
  const EnergyResult r = compute_energy(conv3x3_events(), t);
  expect_close(r.mls, 729 * 0.05 + 729 * 0.01 + 81 * 0.02 + 27 * 0.25 + 54 * 0.25 + 27 * 1.0);
  expect_close(r.fp8, 729 * 0.08 + 810 * 0.25 + 27 * 1.0);
  expect_close(r.memory->total(), 729 * 0.5 + 486 * 0.5 + 27 * 2.0);
}

TEST(UserTables, YamlFileAndDefaultTech) {
  TempDir dir;
  const std::string path = dir.file("mytech.yaml",
                                    "unit: relative\n"
                                    "energy:\n"
                                    "  lowbit_mul: 0.5\n"
                                    "  fp32_mul: 4\n"
                                    "  fp32_add: 1\n"
                                    "  int_acc_add: 0.05\n"
                                    "  shift_add_scale: 0.1\n");
  const EnergyTable t = load_energy_table(path);
  EXPECT_EQ(t.tech, "mytech");  // no "tech": the file's stem
  EXPECT_EQ(t.unit, "relative");
  expect_close(t.at("shift_add_scale"), 0.1);
  const EnergyResult r = compute_energy(conv3x3_events(), t);
  expect_close(r.fp8, 729 * 0.5 + 810 * 1.0 + 27 * 4.0);
  EXPECT_FALSE(r.memory.has_value());
}

const char* kFullEnergy =
    R"("lowbit_mul": 0.2, "fp32_mul": 3.7, "fp32_add": 0.9, "int_acc_add": 0.05, "shift_add_scale": 0.05)";

std::string table_text(const std::string& unit, const std::string& energy_body, const std::string& extra = "") {
  return "{\"tech\": \"x\", \"unit\": \"" + unit + "\", \"energy\": {" + energy_body + "}" + extra + "}";
}

TEST(UserTables, ValidationErrors) {
  TempDir dir;
  auto load = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.file(name, text);
    return [path] { load_energy_table(path); };
  };
  const std::string full = kFullEnergy;
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
  expect_error(load("k.json", table_text("pJ", full + R"(, "buffer_read": 1)")), {"k.json", "buffer_write"});
}

TEST(UserTables, UnknownNameListsBuiltins) {
  expect_error([] { load_energy_table("horowitz-7nm"); },
               {"horowitz-7nm", "paper-unit", "horowitz-45nm", "mac-65nm"});
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
json small_report() {
  Stats doubled = conv3x3_events();
  doubled += conv3x3_events();
  Stats total = doubled;
  total += conv3x3_events();
  return {{"config", {{"rows", 2}, {"cols", 2}, {"chunk", 16}}},
          {"layers",
           {{{"name", "conv1"}, {"pass", "fwd"}, {"cycles", 324}, {"events", stats_json(conv3x3_events())}},
            {{"name", "conv1"}, {"pass", "bwd-weight"}, {"cycles", 648}, {"events", stats_json(doubled)}}}},
          {"total", {{"cycles", 972}, {"events", stats_json(total)}}}};
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
  const double memory = 729 * 1.25 + 486 * 1.25 + 27 * 5.0;
  expect_close(out["layers"][0]["memory_energy"]["total"].get<double>(), memory);
  expect_close(out["layers"][1]["memory_energy"]["read_y"].get<double>(), 2 * 486 * 1.25);
  expect_close(out["total"]["memory_energy"]["total"].get<double>(), 3 * memory);
  EXPECT_FALSE(out["total"]["energy"].contains("memory_energy"));
}

TEST(Report, MissingTotalIsSummed) {
  json report = small_report();
  report.erase("total");
  const json out = add_energy_to_report(report, builtin_energy_table("mac-65nm"), "r.json");
  EXPECT_EQ(out["total"]["events"]["mul"], 3 * 729);
  const double mls = 729 * 0.192 + 729 * 0.094 + 81 * 0.094 + 27 * 1.40 + 54 * 1.40 + 27 * 5.32;
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
  negative["total"]["events"]["mul"] = -5;
  expect_error([&] { add_energy_to_report(negative, paper, "r.json"); }, {"r.json", "total", "events.mul"});
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
  EXPECT_FALSE(fs::exists(out));
}

TEST(Command, SummaryHasOneRowPerEntry) {
  const json out = add_energy_to_report(small_report(), builtin_energy_table("paper-unit"), "r.json");
  const std::string text = format_energy_summary(out);
  EXPECT_NE(text.find("bwd-weight"), std::string::npos);
  EXPECT_NE(text.find("total"), std::string::npos);
  EXPECT_NE(text.find("5.767"), std::string::npos);  // fp32/MLS = 1932/335
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);  // title, header, 2 layers, total
}

}  // namespace
}  // namespace mls
