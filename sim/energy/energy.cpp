// The energy model: event counts of one layer-pass (or a total) times energy per
// action, for the MLS array and for the same workload on fp32 and fp8 arrays.
#include "sim/energy/energy.h"

#include <cmath>
#include <limits>

#include "ref/core/error.h"

namespace mls {

namespace {

// Counters that the model prices; a report without one of them cannot be priced.
constexpr const char* kRequiredEvents[] = {"mul",      "acc_add", "scale",  "tree_add", "out_acc",
                                           "final_mul", "read_x", "read_y", "write_out"};

double ratio(double baseline, double mls) {
  return mls > 0 ? baseline / mls : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json ratio_json(double value) {
  return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
}

BlockEnergy mls_blocks(const Stats& e, const EnergyTable& t) {
  BlockEnergy b;
  b.multiplier = double(e.mul) * t.at("lowbit_mul");
  b.local_accumulator = double(e.acc_add) * t.at("int_acc_add");
  b.group_scaler = double(e.scale) * t.at("shift_add_scale");
  b.adder_tree = double(e.tree_add) * t.at("fp32_add");
  b.output_accumulator = double(e.out_acc) * t.at("fp32_add");
  b.final_scale = double(e.final_mul) * t.at("fp32_mul");
  return b;
}

// Every addition of the same reduction (local, tree, output) done in fp32.
double fp32_additions(const Stats& e) { return double(e.acc_add) + double(e.tree_add) + double(e.out_acc); }

// fp32 array: fp32 operands need neither group scales nor tensor scales.
double fp32_baseline(const Stats& e, const EnergyTable& t) {
  return double(e.mul) * t.at("fp32_mul") + fp32_additions(e) * t.at("fp32_add");
}

// fp8 array: fp8 products accumulated in fp32; no group scales, but fp8 training
// keeps one scale per tensor, so the final fp32 multiply per output stays.
double fp8_baseline(const Stats& e, const EnergyTable& t) {
  const double fp8_mul = t.prices("fp8_mul") ? t.at("fp8_mul") : t.at("lowbit_mul");
  return double(e.mul) * fp8_mul + fp32_additions(e) * t.at("fp32_add") + double(e.final_mul) * t.at("fp32_mul");
}

MemoryEnergy memory_energy(const Stats& e, const EnergyTable& t) {
  MemoryEnergy m;
  m.read_x = double(e.read_x) * t.at("buffer_read");
  m.read_y = double(e.read_y) * t.at("buffer_read");
  m.write_out = double(e.write_out) * t.at("buffer_write");
  return m;
}

uint64_t count_from_json(const nlohmann::json& value, const std::string& where) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) throw Error(where + ": negative count " + value.dump());
  throw Error(where + ": count must be a non-negative integer, got " + value.dump());
}

std::string entry_label(const nlohmann::json& entry, size_t index) {
  std::string label = "layers[" + std::to_string(index) + "]";
  if (entry.contains("name") && entry["name"].is_string()) label += " " + entry["name"].get<std::string>();
  if (entry.contains("pass") && entry["pass"].is_string()) label += " " + entry["pass"].get<std::string>();
  return label;
}

const nlohmann::json& entry_events(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw Error(where + ": entry must be an object");
  if (!entry.contains("events")) throw Error(where + ": missing \"events\"");
  return entry["events"];
}

void add_energy_to_entry(nlohmann::json& entry, const Stats& events, const EnergyTable& table) {
  const EnergyResult result = compute_energy(events, table);
  entry["energy"] = energy_to_json(result);
  if (result.memory) entry["memory_energy"] = memory_energy_to_json(result);
}

const nlohmann::json& report_layers(const nlohmann::json& report, const std::string& source) {
  if (!report.is_object()) throw Error(source + ": a report must be a JSON object");
  if (!report.contains("layers")) throw Error(source + ": missing \"layers\"");
  if (!report["layers"].is_array()) throw Error(source + ": \"layers\" must be an array");
  return report["layers"];
}

}  // namespace

double BlockEnergy::total() const {
  return multiplier + local_accumulator + group_scaler + adder_tree + output_accumulator + final_scale;
}

double EnergyResult::fp32_over_mls() const { return ratio(fp32, mls); }
double EnergyResult::fp8_over_mls() const { return ratio(fp8, mls); }

EnergyResult compute_energy(const Stats& events, const EnergyTable& table) {
  EnergyResult r;
  r.tech = table.tech;
  r.unit = table.unit;
  r.by_block = mls_blocks(events, table);
  r.mls = r.by_block.total();
  r.fp32 = fp32_baseline(events, table);
  r.fp8 = fp8_baseline(events, table);
  if (table.prices_memory()) r.memory = memory_energy(events, table);
  return r;
}

Stats events_from_json(const nlohmann::json& events, const std::string& where) {
  if (!events.is_object()) throw Error(where + ": \"events\" must be an object");
  for (const char* key : kRequiredEvents)
    if (!events.contains(key)) throw Error(where + ": missing event key events." + key);
  Stats stats;
  for (const StatInfo& info : kStatTable)
    if (events.contains(info.key))
      stats.*info.counter = count_from_json(events[info.key], where + ": events." + info.key);
  return stats;
}

nlohmann::json energy_to_json(const EnergyResult& r) {
  const BlockEnergy& b = r.by_block;
  return {{"tech", r.tech},
          {"unit", r.unit},
          {"mls", r.mls},
          {"fp32", r.fp32},
          {"fp8", r.fp8},
          {"fp32_over_mls", ratio_json(r.fp32_over_mls())},
          {"fp8_over_mls", ratio_json(r.fp8_over_mls())},
          {"by_block",
           {{"multiplier", b.multiplier},
            {"local_accumulator", b.local_accumulator},
            {"group_scaler", b.group_scaler},
            {"adder_tree", b.adder_tree},
            {"output_accumulator", b.output_accumulator},
            {"final_scale", b.final_scale}}}};
}

nlohmann::json memory_energy_to_json(const EnergyResult& r) {
  if (!r.memory) throw Error("memory energy requested from a table that does not price memory");
  const MemoryEnergy& m = *r.memory;
  return {{"tech", r.tech},           {"unit", r.unit},   {"read_x", m.read_x},
          {"read_y", m.read_y},       {"write_out", m.write_out}, {"total", m.total()}};
}

nlohmann::json add_energy_to_report(nlohmann::json report, const EnergyTable& table, const std::string& source) {
  report_layers(report, source);  // validates before anything is added
  nlohmann::json& layers = report["layers"];
  Stats sum;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string where = source + ": " + entry_label(layers[i], i);
    const Stats events = events_from_json(entry_events(layers[i], where), where);
    add_energy_to_entry(layers[i], events, table);
    sum += events;
  }
  if (!report.contains("total")) report["total"] = {{"events", counters_json(sum)}};
  const std::string where = source + ": total";
  add_energy_to_entry(report["total"], events_from_json(entry_events(report["total"], where), where), table);
  report["energy_table"] = energy_table_to_json(table);
  return report;
}

}  // namespace mls
