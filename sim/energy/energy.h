#pragma once
// Energy model (docs/reference.md#events): energy = sum over events of count x energy per hardware
// action, read from a table the user can replace. Computed after the run from the
// event counters, never inside the model. See docs/energy.md.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_model/stats/stats.h"

namespace mls {

// ---------------------------------------------------------------------------
// Actions: what an energy table prices. Names are the keys of a table file.
//   lowbit_mul       one <=8-bit float / MLS (M+1)-bit integer multiply   (required)
//   fp32_mul         one fp32 multiply                                    (required)
//   fp32_add         one fp32 add                                         (required)
//   int_acc_add      one 16-bit integer local-accumulator add             (required)
//   shift_add_scale  one group-scaler shift-add                           (required)
//   fp8_mul          one fp8 multiply, fp8 baseline only; absent = lowbit_mul
//   buffer_read      one operand-element buffer read   (memory; with buffer_write)
//   buffer_write     one output-element buffer write   (memory; with buffer_read)
struct EnergyAction {
  const char* name;
  bool required;
  const char* what;
};
const std::vector<EnergyAction>& energy_actions();

struct EnergyTable {
  std::string name;                      // built-in name or the file it came from
  std::string tech;                      // e.g. "45nm (Horowitz ISSCC 2014)"
  std::string unit;                      // "relative" or "pJ"
  std::map<std::string, double> energy;  // action -> energy per action

  bool prices(const std::string& action) const { return energy.count(action) != 0; }
  bool prices_memory() const { return prices("buffer_read"); }  // validated: both or neither
  double at(const std::string& action) const;  // throws mls::Error if unpriced
};

std::vector<std::string> builtin_energy_table_names();  // paper-unit, horowitz-45nm, mac-65nm
bool is_builtin_energy_table(const std::string& name);
EnergyTable builtin_energy_table(const std::string& name);  // throws listing the names

// Validates {"tech", "unit", "energy": {action: value}}; `source` names the file
// in every error message.
EnergyTable energy_table_from_json(const nlohmann::json& doc, const std::string& source);
// .yaml/.yml files are read as YAML, anything else as JSON.
EnergyTable load_energy_table_file(const std::string& path);
// A built-in name, else a table file; neither is an error listing the built-ins.
EnergyTable load_energy_table(const std::string& name_or_path);
nlohmann::json energy_table_to_json(const EnergyTable& table);

// ---------------------------------------------------------------------------
// The model.

// Energy of the MLS array's blocks (report keys of "by_block").
struct BlockEnergy {
  double multiplier = 0;          // mul x lowbit_mul
  double local_accumulator = 0;   // acc_add x int_acc_add
  double group_scaler = 0;        // scale x shift_add_scale
  double adder_tree = 0;          // tree_add x fp32_add
  double output_accumulator = 0;  // out_acc x fp32_add
  double final_scale = 0;         // final_mul x fp32_mul
  double total() const;
};

// Operand and output buffer energy of the MLS array, when the table prices it.
struct MemoryEnergy {
  double read_x = 0;     // read_x x buffer_read
  double read_y = 0;     // read_y x buffer_read
  double write_out = 0;  // write_out x buffer_write
  double total() const { return read_x + read_y + write_out; }
};

struct EnergyResult {
  std::string tech;
  std::string unit;
  BlockEnergy by_block;                // MLS array, arithmetic only
  double mls = 0;                      // == by_block.total()
  double fp32 = 0;                     // same workload on the fp32 baseline array
  double fp8 = 0;                      // same workload on the fp8 baseline array
  std::optional<MemoryEnergy> memory;  // set iff the table prices memory
  double fp32_over_mls() const;        // NaN when mls == 0
  double fp8_over_mls() const;
};

EnergyResult compute_energy(const Stats& events, const EnergyTable& table);

// Reads an "events" object: every counter present must be a non-negative integer;
// mul, acc_add, scale, tree_add, out_acc, final_mul, read_x, read_y, write_out are
// required. Other keys (e.g. utilization) are ignored. `where` prefixes errors.
Stats events_from_json(const nlohmann::json& events, const std::string& where);

// {"tech", "unit", "mls", "fp32", "fp8", "fp32_over_mls", "fp8_over_mls", "by_block"};
// ratios are null when mls == 0.
nlohmann::json energy_to_json(const EnergyResult& result);
// {"tech", "unit", "read_x", "read_y", "write_out", "total"}; requires result.memory.
nlohmann::json memory_energy_to_json(const EnergyResult& result);

// Adds "energy" (and "memory_energy" when priced) to every layer entry and to
// "total", and "energy_table" (the table used) at the top. A missing "total" is
// built from the sum of the layers' events. Throws mls::Error prefixed by `source`
// on a malformed report.
nlohmann::json add_energy_to_report(nlohmann::json report, const EnergyTable& table,
                                    const std::string& source = "report");

// Human-readable table of a report with energy: one row per layer entry, then total.
std::string format_energy_summary(const nlohmann::json& report_with_energy);

// `mlssim energy REPORT.json [--tech NAME|FILE] [--out ENERGY.json]`; args exclude
// the program and subcommand names. Returns the exit code; throws mls::Error on
// bad input (main() prints it), like every subcommand (sim/cli/commands.h).
int cmd_energy(const std::vector<std::string>& args);

}  // namespace mls
