#pragma once
// Energy (docs/energy.md): event counts of each layer-pass times the energy
// per action of the block that does it, for the MLS array and for the same
// workload on four baseline arrays, plus the memory traffic of each. Computed
// after the run from the report, never inside the model.
//
// A table gives the energy per action in one of two ways:
//   width-aware  technology coefficients ("coefficients": energy per adder
//                bit, per partial-product bit, ...); the model of
//                sim/energy/energy_model.h turns them into energy per action
//                for each pass's formats and accumulator width;
//   flat         one energy per action whatever the widths ("energy"), as the
//                paper's unit costs and an exported ERT are.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_model/stats/stats.h"
#include "hw_model/stats/vector_work.h"
#include "sim/energy/energy_model.h"

namespace mls {

// ---------------------------------------------------------------------------
// The largest energy per action or coefficient a table may give: with it
// every total of every report stays finite (energy_table.cpp says why).
constexpr double kMaxEnergyValue = 1e250;

// Flat tables: the actions they price (the keys of their "energy" object).
struct EnergyAction {
  const char* name;
  bool required;
  const char* what;
};
const std::vector<EnergyAction>& energy_actions();

// The designs priced, in report order: the MLS array and the baselines.
inline constexpr const char* kDesigns[] = {"mls", "fp32", "fp8", "fp8-fp16acc", "bf16"};
inline constexpr const char* kBaselines[] = {"fp32", "fp8", "fp8-fp16acc", "bf16"};

struct EnergyTable {
  enum class Model { flat, width_aware };
  std::string name;  // built-in name or the file it came from
  std::string tech;  // e.g. "45 nm (Horowitz, ISSCC 2014)"
  std::string unit;  // "relative" or "pJ"
  Model model = Model::flat;
  std::map<std::string, double> energy;  // flat: action -> energy per action
  Coefficients coefficients;             // width-aware
  // A width-aware table with block functions of its own (osu018_table.h):
  // its prices, and its fitted coefficients for energy_table_to_json.
  std::function<ActionPrices(const PassWidths&)> custom_prices;
  nlohmann::json fitted;

  bool prices(const std::string& action) const { return energy.count(action) != 0; }
  double at(const std::string& action) const;  // flat; throws mls::Error if unpriced
  bool prices_memory() const;
  bool prices_gating() const;
  // The energy of every action at one pass's widths.
  ActionPrices prices_at(const PassWidths& widths) const;
};

std::vector<std::string> builtin_energy_table_names();  // paper-unit, horowitz-45nm, mac-65nm, osu018
bool is_builtin_energy_table(const std::string& name);
EnergyTable builtin_energy_table(const std::string& name);  // throws listing the names

// Validates a table document: {"tech", "unit", "energy": {action: value}} or
// {"tech", "unit", "coefficients": {name: value}}, or an Accelergy-style ERT
// ({"ERT": {...}}, read as a flat table). `source` names the file in every
// error message, with the key at fault.
EnergyTable energy_table_from_json(const nlohmann::json& doc, const std::string& source);
// .yaml/.yml files are read as YAML, anything else as JSON.
EnergyTable load_energy_table_file(const std::string& path);
// A built-in name, else a table file; neither is an error listing the built-ins.
EnergyTable load_energy_table(const std::string& name_or_path);
nlohmann::json energy_table_to_json(const EnergyTable& table);

// The Accelergy-style ERT (YAML text) of the actions at `widths`; refuses a
// table that is not in pJ (an ERT holds pJ).
std::string export_ert(const EnergyTable& table, const PassWidths& widths, const std::string& design_note);
// An ERT document as a flat table; errors name `source` and the key.
EnergyTable energy_table_from_ert(const nlohmann::json& doc, const std::string& source);

// ---------------------------------------------------------------------------
// The model.

struct EnergyOptions {
  bool gating = false;  // price mul_zero products (and their accumulator adds) at the gated cost
};

// Energy of the MLS array's blocks (report keys of "by_block").
struct BlockEnergy {
  double multiplier = 0;
  double local_accumulator = 0;
  double group_scaler = 0;
  double adder_tree = 0;
  double output_accumulator = 0;
  double final_scale = 0;
  // Layer-passes left unquantized (--layer-config, --unquantized): done in
  // fp32 beside the array, one fp32 multiply and one fp32 add per MAC, the
  // same in every design (docs/energy.md#unquantized-layers).
  double unquantized = 0;
  // The vector unit's work beside the array (docs/energy.md#vector-work): not
  // the array's arithmetic, so not in total(); a design's `vector` energy.
  double vector = 0;
  double total() const;  // the array's arithmetic (and unquantized layers'): the `mls` design's
  BlockEnergy& operator+=(const BlockEnergy& o);
};

// The array blocks of "by_block", in report order (unquantized, reported only
// when non-zero, is not an array block). `mlssim describe --json` lists them.
struct BlockField {
  const char* name;  // report key: "local_accumulator"
  double BlockEnergy::*value;
};
const std::vector<BlockField>& block_fields();

// Elements moved per stream at one memory level (group scales in their own
// streams). Doubles: without a traffic report, each element read carries the
// 1/k share of its group scale.
struct StreamCounts {
  double x = 0, x_scale = 0, y = 0, y_scale = 0, out = 0;
};

// A layer-pass's memory traffic: the array's buffer accesses and, when the
// report has its memory system's traffic, the DRAM transfers that fill the
// buffers and drain the outputs.
struct MemoryTraffic {
  StreamCounts buffer;
  std::optional<StreamCounts> dram;
};

// The MLS array's memory energy (the report's "memory_energy"), by stream and
// by level.
struct MemoryEnergy {
  double read_x = 0;         // the X stream (with its group scales): buffer reads, fills, DRAM reads
  double read_y = 0;
  double write_out = 0;      // fp32 outputs: buffer writes, drains, DRAM writes
  double tensor_scales = 0;  // the two fp32 tensor scales of the pass
  double buffer = 0;         // the same energy by level: on-chip buffers
  double dram = 0;           //   and DRAM (0 when the table or the report has none)
  double total() const { return buffer + dram; }
  MemoryEnergy& operator+=(const MemoryEnergy& o);
};

// Energy of one design; nullopt where the table does not price it.
struct DesignEnergy {
  std::optional<double> arithmetic;
  std::optional<double> memory;
  double vector = 0;  // its vector unit: the vector ops and its own quantizer
  std::optional<double> total() const;  // arithmetic + vector + memory when arithmetic and memory are priced
};

struct EnergyResult {
  std::string tech, unit;
  bool gating = false;
  BlockEnergy by_block;                   // MLS array, arithmetic
  std::optional<MemoryEnergy> memory;     // MLS array, when the table prices memory
  std::map<std::string, DesignEnergy> designs;  // every name of kDesigns
  std::optional<ActionPrices> actions;    // a layer-pass's prices (not kept in sums)

  double mls() const { return by_block.total(); }
  // baseline / mls of the arithmetic (or of the totals); NaN when either is
  // unpriced or mls is 0.
  double over_mls(const std::string& baseline) const;
  double total_over_mls(const std::string& baseline) const;
  EnergyResult& operator+=(const EnergyResult& o);
};

// `widths` may be null for a flat table without memory (the widths are not
// needed); otherwise it is an error. `traffic` null: the buffer accesses of
// the events (read_x, read_y, write_out), each read with the 1/k share of its
// group scale, and no DRAM.
EnergyResult compute_energy(const Stats& events, const EnergyTable& table, const PassWidths* widths,
                            const EnergyOptions& options = {}, const MemoryTraffic* traffic = nullptr,
                            const hw::VectorWork& vector = {});

// Each design's vector energy (docs/energy.md#vector-work): the vector ops at
// the same price in all; the quantizer as each design quantizes (MLS: every
// quantization with its group scales; fp8: per-tensor scaling of the same
// operands, re-quantizations excluded; bf16: a rounding per element; fp32: none).
void price_vector(const hw::VectorWork& v, uint64_t requant, const VectorPrices& p, EnergyResult& r);

// The entry's "traffic" (element counts per stream and level, written by the
// memory system) as a MemoryTraffic; nullopt when the entry has none.
std::optional<MemoryTraffic> entry_traffic(const nlohmann::json& entry, const std::string& where);

// Sums an unquantized entry without memory energy into the total: its
// arithmetic only (a report from before unquantized entries had fp32_words).
void add_arithmetic(EnergyResult& total, const EnergyResult& r);

// A result with every design the table prices at zero: what sums start from.
EnergyResult zero_result(const EnergyTable& table, const EnergyOptions& options);

// An unquantized layer-pass's compulsory traffic (its entry's "fp32_words"):
// each operand element read and each result written once, in fp32 words.
struct Fp32Words {
  uint64_t x = 0, y = 0, out = 0;
};

// An unquantized layer-pass of `macs` MACs: one fp32 multiply and one fp32
// add per MAC, in every design alike; with `words` and a table that prices
// memory, their buffer reads and writes at 32 bits, in every design alike
// (it is not simulated: no fuller traffic to price).
EnergyResult unquantized_energy(uint64_t macs, const EnergyTable& table, const EnergyOptions& options = {},
                                const hw::VectorWork& vector = {},
                                const std::optional<Fp32Words>& words = std::nullopt);

// Reads an "events" object: every counter present must be a non-negative integer;
// mul, acc_add, scale, tree_add, out_acc, final_mul, read_x, read_y, write_out are
// required. Other keys (e.g. utilization) are ignored. `where` prefixes errors.
Stats events_from_json(const nlohmann::json& events, const std::string& where);

// The report's "energy" object: {"tech", "unit", "gating", <design>...,
// <baseline>_over_mls..., "by_block", "memory": {design: e}, "total": {design:
// e}, total_<baseline>_over_mls..., "actions"}; unpriced values are null.
nlohmann::json energy_to_json(const EnergyResult& result);
// {"tech", "unit", "read_x", "read_y", "write_out", "tensor_scales", "buffer",
// "dram", "total"}; requires result.memory.
nlohmann::json memory_energy_to_json(const EnergyResult& result);

// A layer entry's widths: its "formats" object (written by `mlssim run`), else
// the report's "config" with the usual operand roles of its pass
// (x_operand / y_operand). nullopt when the report says neither, or the entry
// names no known pass.
std::optional<PassWidths> entry_widths(const nlohmann::json& entry, const nlohmann::json& report,
                                       const std::string& where);

// Adds "energy" (and "memory_energy" when priced) to every layer entry and to
// "total" (the sum of the entries), and "energy_table" (the table used) at the
// top. A missing "total" is built from the sum of the layers' events. Throws
// mls::Error prefixed by `source` on a malformed report.
nlohmann::json add_energy_to_report(nlohmann::json report, const EnergyTable& table,
                                    const std::string& source = "report", const EnergyOptions& options = {});

// Human-readable table of a report with energy: one row per layer entry, then total.
std::string format_energy_summary(const nlohmann::json& report_with_energy);

// `mlssim energy REPORT.json [--tech NAME|FILE] [--gating] [--out ENERGY.json]
// [--export-ert ERT.yaml [--pass P]]`; args exclude the program and subcommand
// names. Returns the exit code; throws mls::Error on bad input (main() prints
// it), like every subcommand (sim/cli/commands.h).
int cmd_energy(const std::vector<std::string>& args);

}  // namespace mls
