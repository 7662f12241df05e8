// libFuzzer harness: energy tables and the run-report loaders (docs/fuzzing.md).
// The first input byte chooses what the rest is:
//   'j'    an energy table file table.json  -> mls::load_energy_table
//   'r'    a run report (mlssim energy REPORT.json, mlssim run --expect REPORT.json):
//          mls::read_json_file, then mls::add_energy_to_report with the
//          paper-unit and horowitz-45nm tables (the latter prices memory) and
//          mls::format_energy_summary of the result, and mls::compare_reports
//          against itself and against a small valid report, both ways
//   other  an energy table file table.yaml  -> mls::load_energy_table
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "sim/energy/energy.h"
#include "sim/io/json_file.h"
#include "sim/run/report.h"

namespace {

const nlohmann::json& valid_report() {
  static const nlohmann::json report = nlohmann::json::parse(R"({
    "layers": [{"name": "a", "pass": "fwd", "macs": 288,
                "events": {"cycles": 40, "pipeline_depth": 6, "stall_cycles": 0, "mul": 288, "mul_zero": 3,
                           "acc_add": 288, "acc_overflow": 0, "scale": 32, "tree_add": 24, "out_acc": 8,
                           "final_mul": 8, "read_x": 288, "read_y": 36, "write_out": 8, "utilization": 0.5}}]
  })");
  return report;
}

void table(const std::string& path) {
  const mls::EnergyTable t = mls::load_energy_table(path);
  for (const auto& [action, value] : t.energy)
    if (!std::isfinite(value) || value < 0) std::abort();  // the validator must have refused it
  const mls::PassWidths widths;
  const mls::ActionPrices p = t.prices_at(widths);
  for (double price : {p.element_mul, p.acc_add, p.group_scale, p.fp32_add, p.fp32_mul})
    if (!std::isfinite(price) || price < 0) std::abort();  // nor a coefficient that prices below zero
  mls::fuzz::loaded("table " + t.tech + ", " + std::to_string(t.energy.size()) + " actions");
}

void report(const std::string& path) {
  const nlohmann::json parsed = mls::read_json_file(path);
  for (const char* name : {"paper-unit", "horowitz-45nm"}) {
    try {
      // As `mlssim energy` does: the report is moved in, not copied (a copy of a
      // deeply nested document recurses in nlohmann::json, not in mlssim).
      const nlohmann::json priced =
          mls::add_energy_to_report(mls::read_json_file(path), mls::builtin_energy_table(name), path);
      mls::format_energy_summary(priced);
      mls::fuzz::loaded(std::string("report priced with ") + name);
    } catch (const mls::Error& e) {
      mls::fuzz::expected(e);
    }
  }
  try {
    if (!mls::compare_reports(parsed, parsed).empty()) std::abort();  // a report differs from itself
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  try {
    mls::compare_reports(parsed, valid_report());
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  try {
    mls::compare_reports(valid_report(), parsed);
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
}

}  // namespace

// JSON tables and reports (and YAML tables written in JSON syntax) get
// structure-aware mutations after the mode byte.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "tech", "unit", "energy", "relative", "pJ", "lowbit_mul", "fp32_mul", "fp32_add", "int_acc_add",
      "shift_add_scale", "fp8_mul", "buffer_read", "buffer_write", "layers", "total", "events", "name", "pass",
      "fwd", "bwd-data", "macs", "cycles", "pipeline_depth", "stall_cycles", "mul", "mul_zero", "acc_add",
      "acc_overflow", "scale", "tree_add", "out_acc", "final_mul", "read_x", "read_y", "write_out", "utilization",
      "config", "trace", "energy_table", "memory_energy"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 1, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char mode = char(data[0]);
  const std::string name = mode == 'j' ? "table.json" : mode == 'r' ? "report.json" : "table.yaml";
  const std::string path = mls::fuzz::write_scratch(name, data + 1, size - 1);
  try {
    if (mode == 'r') report(path);
    else table(path);
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
