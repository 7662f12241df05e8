// Energy in reports: a report entry's events, widths and traffic read back,
// priced (energy.cpp) and written into the entry, the total and the table.
#include <cmath>
#include <limits>
#include <utility>

#include "ref/core/error.h"
#include "ref/core/operand.h"
#include "ref/workload/layer_kind.h"
#include "sim/energy/energy.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

// Counters that the model prices; a report without one of them cannot be priced.
constexpr const char* kRequiredEvents[] = {"mul",      "acc_add", "scale",  "tree_add", "out_acc",
                                           "final_mul", "read_x", "read_y", "write_out"};

nlohmann::json optional_json(std::optional<double> value) {
  return value && !std::isnan(*value) ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
uint64_t count_from_json(const nlohmann::json& value, const std::string& where) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return uint64_t(value.get<int64_t>());
  if (value.is_number_integer()) throw Error(where + ": negative count " + value.dump());
  throw Error(where + ": count must be a non-negative integer, got " + value.dump());
}

std::string entry_label(const nlohmann::json& entry, size_t index) {
  std::string label = "layers[" + std::to_string(index) + "]";
  if (!entry.is_object()) return label;
  for (const char* key : {"name", "pass"}) {
    const std::string text = string_field(entry, key, "");
    if (!text.empty()) label += " " + text;
  }
  return label;
}

const nlohmann::json& entry_events(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw Error(where + ": entry must be an object");
  if (!entry.contains("events")) throw Error(where + ": missing \"events\"");
  return entry["events"];
}

const nlohmann::json& report_layers(const nlohmann::json& report, const std::string& source) {
  if (!report.is_object()) throw Error(source + ": a report must be a JSON object");
  if (!report.contains("layers")) throw Error(source + ": missing \"layers\"");
  if (!report["layers"].is_array()) throw Error(source + ": \"layers\" must be an array");
  return report["layers"];
}

bool is_unquantized(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object() || !entry.contains("unquantized")) return false;
  if (!entry["unquantized"].is_boolean()) throw Error(where + ": unquantized must be true or false");
  return entry["unquantized"].get<bool>();
}

uint64_t entry_macs(const nlohmann::json& entry, const std::string& where) {
  if (!entry.contains("macs")) throw Error(where + ": an unquantized entry needs \"macs\"");
  return count_from_json(entry["macs"], where + ": macs");
}

// An unquantized entry's "fp32_words"; none in a report from before they were
// recorded.
std::optional<Fp32Words> entry_words(const nlohmann::json& entry, const std::string& where) {
  if (!entry.contains("fp32_words")) return std::nullopt;
  const nlohmann::json& w = entry["fp32_words"];
  if (!w.is_object()) throw Error(where + ": \"fp32_words\" must be an object of counts");
  Fp32Words words;
  using Field = std::pair<const char*, uint64_t Fp32Words::*>;
  for (const auto& [key, field] : {Field{"x", &Fp32Words::x}, Field{"y", &Fp32Words::y}, Field{"out", &Fp32Words::out}}) {
    if (!w.contains(key)) throw Error(where + ": fp32_words needs \"" + std::string(key) + "\"");
    words.*field = count_from_json(w[key], where + ": fp32_words." + std::string(key));
  }
  return words;
}

// The entry's "vector" (its vector unit's work); none in a report from
// before vector work was counted.
hw::VectorWork entry_vector(const nlohmann::json& entry, const std::string& where) {
  hw::VectorWork v;
  if (!entry.contains("vector")) return v;
  if (!entry["vector"].is_object()) throw Error(where + ": \"vector\" must be an object of counts");
  for (const hw::VectorInfo& info : hw::kVectorTable)
    if (entry["vector"].contains(info.key))
      v.*info.field = count_from_json(entry["vector"][info.key], where + ": vector." + info.key);
  return v;
}

// The table's limit (kMaxEnergyValue) keeps every energy finite; a sum that
// still overflowed would be refused here, never printed as inf or JSON null.
void check_finite(const EnergyResult& r, const std::string& where, const EnergyTable& table) {
  bool finite = std::isfinite(r.by_block.total()) && std::isfinite(r.by_block.vector);
  for (const auto& [design, e] : r.designs)
    finite = finite && std::isfinite(e.arithmetic.value_or(0.0)) && std::isfinite(e.memory.value_or(0.0));
  if (r.memory) finite = finite && std::isfinite(r.memory->total() + r.memory->read_x + r.memory->read_y);
  if (!finite) throw Error(where + ": energy overflows a double with table " + table.name);
}

void store_energy(nlohmann::json& entry, const EnergyResult& result) {
  entry["energy"] = energy_to_json(result);
  if (result.memory) entry["memory_energy"] = memory_energy_to_json(result);
}

// --- widths of a report entry -------------------------------------------

const nlohmann::json* object_member(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_object() ? &j[key] : nullptr;
}

std::string format_text(const nlohmann::json& holder, const char* key, const std::string& where) {
  if (!holder.contains(key) || !holder[key].is_string()) throw Error(where + "." + key + ": missing or not a string");
  return holder[key].get<std::string>();
}

int acc_bits_of(const nlohmann::json& holder, const std::string& where) {
  if (!holder.contains("acc_bits") || !holder["acc_bits"].is_number_integer())
    throw Error(where + ".acc_bits: missing or not an integer");
  const int64_t bits = holder["acc_bits"].get<int64_t>();
  if (bits < 1 || bits > 64) throw Error(where + ".acc_bits: " + std::to_string(bits) + " is not in [1, 64]");
  return int(bits);
}

// A result's width ("out_format"; fp32 in a report from before it).
int out_bits_of(const nlohmann::json& holder, const std::string& where) {
  if (!holder.contains("out_format")) return 32;
  const std::string text = format_text(holder, "out_format", where);
  try {
    return out_bits(parse_out_format(text));
  } catch (const Error& e) {
    throw Error(where + ".out_format: " + e.what());
  }
}

void set_operand(const nlohmann::json& fmt, const std::string& where, ElemFormat& elem, ScaleFormat& scale) {
  try {
    elem = parse_elem_format(format_text(fmt, "elem", where));
    scale = parse_scale_format(format_text(fmt, "scale", where));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

const nlohmann::json& config_operand(const nlohmann::json& config, Operand role) {
  const nlohmann::json* operands = object_member(config, "operands");
  const nlohmann::json* op = operands ? object_member(*operands, to_string(role).c_str()) : nullptr;
  return op ? *op : config;
}

}  // namespace

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

// --- JSON ------------------------------------------------------------------

namespace {

nlohmann::json actions_json(const ActionPrices& p) {
  return {{"element_mul", p.element_mul},
          {"element_mul_gated", optional_json(p.element_mul_gated)},
          {"acc_add", p.acc_add},
          {"acc_add_gated", optional_json(p.acc_add_gated)},
          {"group_scale", p.group_scale},
          {"fp32_add", p.fp32_add},
          {"fp32_mul", p.fp32_mul},
          {"fp8_mul", optional_json(p.fp8_mul)},
          {"fp16_add", optional_json(p.fp16_add)},
          {"bf16_mul", optional_json(p.bf16_mul)},
          {"read_bit", optional_json(p.read_bit)},
          {"write_bit", optional_json(p.write_bit)},
          {"dram_read_bit", optional_json(p.dram_read_bit)},
          {"dram_write_bit", optional_json(p.dram_write_bit)}};
}

}  // namespace

const std::vector<BlockField>& block_fields() {
  static const std::vector<BlockField> kFields = {{"multiplier", &BlockEnergy::multiplier},
                                                  {"local_accumulator", &BlockEnergy::local_accumulator},
                                                  {"group_scaler", &BlockEnergy::group_scaler},
                                                  {"adder_tree", &BlockEnergy::adder_tree},
                                                  {"output_accumulator", &BlockEnergy::output_accumulator},
                                                  {"final_scale", &BlockEnergy::final_scale}};
  return kFields;
}

nlohmann::json energy_to_json(const EnergyResult& r) {
  const BlockEnergy& b = r.by_block;
  nlohmann::json j = {{"tech", r.tech}, {"unit", r.unit}, {"gating", r.gating}};
  for (const char* design : kDesigns) j[design] = optional_json(r.designs.at(design).arithmetic);
  for (const char* baseline : kBaselines) j[std::string(baseline) + "_over_mls"] = optional_json(r.over_mls(baseline));
  j["by_block"] = nlohmann::json::object();
  for (const BlockField& f : block_fields()) j["by_block"][f.name] = b.*f.value;
  if (b.unquantized > 0) j["by_block"]["unquantized"] = b.unquantized;
  j["by_block"]["vector"] = b.vector;  // beside the array: not in `mls` (docs/energy.md#vector-work)
  j["vector"] = nlohmann::json::object();
  for (const char* design : kDesigns) j["vector"][design] = r.designs.at(design).vector;
  nlohmann::json memory = nullptr, total = nullptr;
  if (r.memory) {
    memory = total = nlohmann::json::object();
    for (const char* design : kDesigns) {
      memory[design] = optional_json(r.designs.at(design).memory);
      total[design] = optional_json(r.designs.at(design).total());
    }
  }
  j["memory"] = memory;
  j["total"] = total;
  for (const char* baseline : kBaselines)
    j[std::string("total_") + baseline + "_over_mls"] = optional_json(r.total_over_mls(baseline));
  if (r.actions) j["actions"] = actions_json(*r.actions);
  return j;
}

nlohmann::json memory_energy_to_json(const EnergyResult& r) {
  if (!r.memory) throw Error("memory energy requested from a table that does not price memory");
  const MemoryEnergy& m = *r.memory;
  return {{"tech", r.tech},     {"unit", r.unit},         {"read_x", m.read_x},
          {"read_y", m.read_y}, {"write_out", m.write_out}, {"tensor_scales", m.tensor_scales},
          {"buffer", m.buffer}, {"dram", m.dram},           {"total", m.total()}};
}

std::optional<PassWidths> entry_widths(const nlohmann::json& entry, const nlohmann::json& report,
                                       const std::string& where) {
  PassWidths w;
  if (entry.contains("k")) {
    if (!entry["k"].is_number_integer() || entry["k"].get<int64_t>() < 1)
      throw Error(where + ": k must be a positive integer");
    w.group_len = entry["k"].get<int64_t>();
  } else {
    w.group_len = 0;
  }
  if (const nlohmann::json* formats = object_member(entry, "formats")) {
    const std::string at = where + ": formats";
    const nlohmann::json* x = object_member(*formats, "x");
    const nlohmann::json* y = object_member(*formats, "y");
    if (!x || !y) throw Error(at + ": needs objects x and y");
    set_operand(*x, at + ".x", w.x_elem, w.x_scale);
    set_operand(*y, at + ".y", w.y_elem, w.y_scale);
    w.acc_bits = acc_bits_of(*formats, at);
    w.out_bits = out_bits_of(*formats, at);
    return w;
  }
  const nlohmann::json* config = object_member(report, "config");
  if (!config) return std::nullopt;
  // The usual operand roles of the pass (a report from before entries named
  // them); without a pass name there are no roles, so no widths.
  Pass pass;
  try {
    pass = parse_pass(string_field(entry, "pass", ""));
  } catch (const Error&) {
    return std::nullopt;
  }
  const std::string at = where + ": config";
  set_operand(config_operand(*config, x_operand(pass)), at, w.x_elem, w.x_scale);
  set_operand(config_operand(*config, y_operand(pass)), at, w.y_elem, w.y_scale);
  w.acc_bits = acc_bits_of(*config, at);
  w.out_bits = out_bits_of(*config, at);
  return w;
}

namespace {

double traffic_count(const nlohmann::json& elements, const char* key, const std::string& where) {
  if (!elements.contains(key)) throw Error(where + ": traffic.elements." + key + ": missing");
  return double(count_from_json(elements[key], where + ": traffic.elements." + key));
}

}  // namespace

std::optional<MemoryTraffic> entry_traffic(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object() || !entry.contains("traffic")) return std::nullopt;
  const nlohmann::json& traffic = entry["traffic"];
  if (!traffic.is_object() || !traffic.contains("elements") || !traffic["elements"].is_object())
    throw Error(where + ": traffic: needs an \"elements\" object of element counts");
  const nlohmann::json& elements = traffic["elements"];
  // The stream names of the memory system: x_buffer_read, x_scale_dram_read, out_dram_write, ...
  MemoryTraffic t;
  t.buffer = {traffic_count(elements, "x_buffer_read", where), traffic_count(elements, "x_scale_buffer_read", where),
              traffic_count(elements, "y_buffer_read", where), traffic_count(elements, "y_scale_buffer_read", where),
              traffic_count(elements, "out_buffer_write", where)};
  t.dram = StreamCounts{traffic_count(elements, "x_dram_read", where),
                        traffic_count(elements, "x_scale_dram_read", where),
                        traffic_count(elements, "y_dram_read", where),
                        traffic_count(elements, "y_scale_dram_read", where),
                        traffic_count(elements, "out_dram_write", where)};
  return t;
}

nlohmann::json add_energy_to_report(nlohmann::json report, const EnergyTable& table, const std::string& source,
                                    const EnergyOptions& options) {
  report_layers(report, source);  // validates before anything is added
  nlohmann::json& layers = report["layers"];
  Stats events_sum;
  EnergyResult total = zero_result(table, options);
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string where = source + ": " + entry_label(layers[i], i);
    if (is_unquantized(layers[i], where)) {
      const EnergyResult result = unquantized_energy(entry_macs(layers[i], where), table, options,
                                                     entry_vector(layers[i], where), entry_words(layers[i], where));
      store_energy(layers[i], result);
      if (result.memory) total += result;
      else add_arithmetic(total, result);
      continue;
    }
    const Stats events = events_from_json(entry_events(layers[i], where), where);
    const std::optional<PassWidths> widths = entry_widths(layers[i], report, where);
    const std::optional<MemoryTraffic> traffic = entry_traffic(layers[i], where);
    EnergyResult result;
    try {
      result = compute_energy(events, table, widths ? &*widths : nullptr, options, traffic ? &*traffic : nullptr,
                              entry_vector(layers[i], where));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    check_finite(result, where, table);
    store_energy(layers[i], result);
    total += result;
    events_sum += events;
  }
  if (!report.contains("total")) report["total"] = {{"events", counters_json(events_sum)}};
  if (!report["total"].is_object()) throw Error(source + ": total: must be an object");
  check_finite(total, source + ": total", table);
  store_energy(report["total"], total);
  report["energy_table"] = energy_table_to_json(table);
  return report;
}

}  // namespace mls
