// Pricing: the event counts of one layer-pass times the energy per action at
// that pass's widths, for the MLS array and the baselines, arithmetic and
// memory (docs/energy.md#events-to-energy).
#include "sim/energy/energy.h"

#include <cmath>
#include <limits>

#include "ref/core/error.h"
#include "ref/core/operand.h"
#include "ref/workload/layer_kind.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

// Counters that the model prices; a report without one of them cannot be priced.
constexpr const char* kRequiredEvents[] = {"mul",      "acc_add", "scale",  "tree_add", "out_acc",
                                           "final_mul", "read_x", "read_y", "write_out"};

// Word widths of the designs' memory traffic (docs/energy.md#3-memory): operand
// element, output element, whether operands carry MLS group scales, and
// whether the pass reads two fp32 tensor scales (designs with low-bit operands
// need them).
struct DesignWords {
  const char* design;
  int operand_bits;  // 0: the MLS element width of the pass
  int output_bits;
  bool group_scales;
  bool tensor_scales;
};
constexpr DesignWords kWords[] = {{"mls", 0, 32, true, true},
                                  {"fp32", 32, 32, false, false},
                                  {"fp8", 8, 32, false, true},
                                  {"fp8-fp16acc", 8, 16, false, true},
                                  {"bf16", 16, 32, false, false}};
constexpr double kTensorScaleBits = 2 * 32;

double ratio(std::optional<double> baseline, std::optional<double> mls) {
  if (!baseline || !mls || *mls <= 0) return std::numeric_limits<double>::quiet_NaN();
  return *baseline / *mls;
}

nlohmann::json optional_json(std::optional<double> value) {
  return value && !std::isnan(*value) ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::optional<double> sum(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return std::nullopt;
  return *a + *b;
}

BlockEnergy mls_blocks(const Stats& e, const ActionPrices& p, uint64_t gated) {
  BlockEnergy b;
  b.multiplier = double(e.mul - gated) * p.element_mul + (gated ? double(gated) * *p.element_mul_gated : 0.0);
  b.local_accumulator = double(e.acc_add - gated) * p.acc_add + (gated ? double(gated) * *p.acc_add_gated : 0.0);
  b.group_scaler = double(e.scale) * p.group_scale;
  b.adder_tree = double(e.tree_add) * p.fp32_add;
  b.output_accumulator = double(e.out_acc) * p.fp32_add;
  b.final_scale = double(e.final_mul) * p.fp32_mul;
  return b;
}

// Every addition of the same reduction (local, tree, output) done by a baseline's accumulator.
double reduction_adds(const Stats& e) { return double(e.acc_add) + double(e.tree_add) + double(e.out_acc); }

// The baselines do the MLS array's products and reduction structure, in their formats.
void price_baselines(const Stats& e, const ActionPrices& p, EnergyResult& r) {
  const double mul = double(e.mul), adds = reduction_adds(e), final_mul = double(e.final_mul);
  r.designs["fp32"].arithmetic = mul * p.fp32_mul + adds * p.fp32_add;
  r.designs["fp8"].arithmetic = mul * *p.fp8_mul + adds * p.fp32_add + final_mul * p.fp32_mul;
  if (p.fp16_add) r.designs["fp8-fp16acc"].arithmetic = mul * *p.fp8_mul + adds * *p.fp16_add + final_mul * p.fp32_mul;
  if (p.bf16_mul) r.designs["bf16"].arithmetic = mul * *p.bf16_mul + adds * p.fp32_add;
}

// Bits per stream at one level for one design's word widths.
struct StreamBits {
  double x = 0, y = 0, out = 0;
};

StreamBits stream_bits(const StreamCounts& c, const DesignWords& words, const PassWidths& w) {
  const bool mls = words.operand_bits == 0;
  const double wx = mls ? w.x_elem.bits() : words.operand_bits, wy = mls ? w.y_elem.bits() : words.operand_bits;
  const double sx = words.group_scales ? w.x_scale.e + w.x_scale.m : 0.0;
  const double sy = words.group_scales ? w.y_scale.e + w.y_scale.m : 0.0;
  return {c.x * wx + c.x_scale * sx, c.y * wy + c.y_scale * sy, c.out * words.output_bits};
}

// One design's memory energy: the array's buffer reads and output writes; with
// DRAM traffic, the fills (DRAM read, buffer write) and drains (buffer read,
// DRAM write) too.
MemoryEnergy design_memory(const MemoryTraffic& t, const DesignWords& words, const PassWidths& w,
                           const ActionPrices& p) {
  const double rb = *p.read_bit, wb = *p.write_bit;
  const StreamBits array = stream_bits(t.buffer, words, w);
  MemoryEnergy m;
  m.read_x = array.x * rb;
  m.read_y = array.y * rb;
  m.write_out = array.out * wb;
  m.tensor_scales = words.tensor_scales ? kTensorScaleBits * rb : 0.0;
  if (!t.dram) {
    m.buffer = m.read_x + m.read_y + m.write_out + m.tensor_scales;
    return m;
  }
  const StreamBits moved = stream_bits(*t.dram, words, w);
  m.read_x += moved.x * wb;  // fills
  m.read_y += moved.y * wb;
  m.write_out += moved.out * rb;  // drains
  m.buffer = m.read_x + m.read_y + m.write_out + m.tensor_scales;
  if (p.dram_read_bit) {
    m.read_x += moved.x * *p.dram_read_bit;
    m.read_y += moved.y * *p.dram_read_bit;
    m.write_out += moved.out * *p.dram_write_bit;
    m.dram = (moved.x + moved.y) * *p.dram_read_bit + moved.out * *p.dram_write_bit;
  }
  return m;
}

// Without a traffic report: the SystemC model's buffer accesses, one per
// read_x / read_y / write_out, each read with the 1/k share of its group scale.
MemoryTraffic traffic_of_events(const Stats& e, const PassWidths& w) {
  MemoryTraffic t;
  const double k = double(w.group_len);
  t.buffer = {double(e.read_x), double(e.read_x) / k, double(e.read_y), double(e.read_y) / k, double(e.write_out)};
  return t;
}

void price_memory(const MemoryTraffic& t, const ActionPrices& p, const PassWidths& w, EnergyResult& r) {
  for (const DesignWords& words : kWords) {
    const MemoryEnergy m = design_memory(t, words, w, p);
    r.designs[words.design].memory = m.total();
    if (words.operand_bits == 0) r.memory = m;
  }
}

// A result with every design the table prices at zero: what sums start from.
EnergyResult zero_result(const EnergyTable& table, const EnergyOptions& options) {
  EnergyResult r;
  r.tech = table.tech;
  r.unit = table.unit;
  r.gating = options.gating;
  const ActionPrices p = table.prices_at(PassWidths{});
  for (const char* design : kDesigns) r.designs[design] = {};
  r.designs["mls"].arithmetic = r.designs["fp32"].arithmetic = r.designs["fp8"].arithmetic = 0.0;
  if (p.fp16_add) r.designs["fp8-fp16acc"].arithmetic = 0.0;
  if (p.bf16_mul) r.designs["bf16"].arithmetic = 0.0;
  if (p.read_bit) {
    r.memory = MemoryEnergy{};
    for (const char* design : kDesigns) r.designs[design].memory = 0.0;
  }
  return r;
}

uint64_t gated_products(const Stats& e, const EnergyTable& table, const EnergyOptions& options) {
  if (!options.gating) return 0;
  if (!table.prices_gating())
    throw Error("--gating: energy table " + table.name +
                " prices no gated actions (a flat table needs gated_mul and gated_acc_add, a width-aware one "
                "gated_fraction)");
  if (e.mul_zero > e.mul || e.mul_zero > e.acc_add)
    throw Error("events.mul_zero (" + std::to_string(e.mul_zero) + ") exceeds mul or acc_add");
  return e.mul_zero;
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

// Sums an unquantized entry into the total: its arithmetic only, since it has
// no memory traffic (the total's memory covers the simulated layer-passes).
void add_arithmetic(EnergyResult& total, const EnergyResult& r) {
  total.by_block += r.by_block;
  for (auto& [design, e] : total.designs) e.arithmetic = sum(e.arithmetic, r.designs.at(design).arithmetic);
}

// The table's limit (kMaxEnergyValue) keeps every energy finite; a sum that
// still overflowed would be refused here, never printed as inf or JSON null.
void check_finite(const EnergyResult& r, const std::string& where, const EnergyTable& table) {
  bool finite = std::isfinite(r.by_block.total());
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

// --- results ---------------------------------------------------------------

double BlockEnergy::total() const {
  return multiplier + local_accumulator + group_scaler + adder_tree + output_accumulator + final_scale + unquantized;
}

BlockEnergy& BlockEnergy::operator+=(const BlockEnergy& o) {
  multiplier += o.multiplier;
  local_accumulator += o.local_accumulator;
  group_scaler += o.group_scaler;
  adder_tree += o.adder_tree;
  output_accumulator += o.output_accumulator;
  final_scale += o.final_scale;
  unquantized += o.unquantized;
  return *this;
}

MemoryEnergy& MemoryEnergy::operator+=(const MemoryEnergy& o) {
  read_x += o.read_x;
  read_y += o.read_y;
  write_out += o.write_out;
  tensor_scales += o.tensor_scales;
  buffer += o.buffer;
  dram += o.dram;
  return *this;
}

std::optional<double> DesignEnergy::total() const { return sum(arithmetic, memory); }

double EnergyResult::over_mls(const std::string& baseline) const {
  return ratio(designs.at(baseline).arithmetic, designs.at("mls").arithmetic);
}

double EnergyResult::total_over_mls(const std::string& baseline) const {
  return ratio(designs.at(baseline).total(), designs.at("mls").total());
}

EnergyResult& EnergyResult::operator+=(const EnergyResult& o) {
  by_block += o.by_block;
  if (memory && o.memory) *memory += *o.memory;
  else memory.reset();
  for (auto& [design, energy] : designs) {
    const DesignEnergy& other = o.designs.at(design);
    energy.arithmetic = sum(energy.arithmetic, other.arithmetic);
    energy.memory = sum(energy.memory, other.memory);
  }
  actions.reset();
  return *this;
}

EnergyResult compute_energy(const Stats& events, const EnergyTable& table, const PassWidths* widths,
                            const EnergyOptions& options, const MemoryTraffic* traffic) {
  const bool needs_widths = table.model == EnergyTable::Model::width_aware || table.prices_memory();
  if (needs_widths && !widths)
    throw Error("no operand formats to price with (the entry has no \"formats\" and the report no \"config\")");
  const PassWidths w = widths ? *widths : PassWidths{};
  if (table.prices_memory() && !traffic && w.group_len < 1)
    throw Error("no group length k to share the group scales over");
  const ActionPrices prices = table.prices_at(w);
  EnergyResult r = zero_result(table, options);
  r.by_block = mls_blocks(events, prices, gated_products(events, table, options));
  r.designs["mls"].arithmetic = r.by_block.total();
  price_baselines(events, prices, r);
  if (prices.read_bit) price_memory(traffic ? *traffic : traffic_of_events(events, w), prices, w, r);
  r.actions = prices;
  return r;
}

EnergyResult unquantized_energy(uint64_t macs, const EnergyTable& table, const EnergyOptions& options) {
  EnergyResult r = zero_result(table, options);
  const ActionPrices p = table.prices_at(PassWidths{});
  const double energy = double(macs) * (p.fp32_mul + p.fp32_add);
  r.by_block.unquantized = energy;
  for (auto& [design, e] : r.designs) {
    if (e.arithmetic) *e.arithmetic += energy;
    e.memory.reset();
  }
  r.memory.reset();
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

nlohmann::json energy_to_json(const EnergyResult& r) {
  const BlockEnergy& b = r.by_block;
  nlohmann::json j = {{"tech", r.tech}, {"unit", r.unit}, {"gating", r.gating}};
  for (const char* design : kDesigns) j[design] = optional_json(r.designs.at(design).arithmetic);
  for (const char* baseline : kBaselines) j[std::string(baseline) + "_over_mls"] = optional_json(r.over_mls(baseline));
  j["by_block"] = {{"multiplier", b.multiplier},
                   {"local_accumulator", b.local_accumulator},
                   {"group_scaler", b.group_scaler},
                   {"adder_tree", b.adder_tree},
                   {"output_accumulator", b.output_accumulator},
                   {"final_scale", b.final_scale}};
  if (b.unquantized > 0) j["by_block"]["unquantized"] = b.unquantized;
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
      const EnergyResult result = unquantized_energy(entry_macs(layers[i], where), table, options);
      store_energy(layers[i], result);
      add_arithmetic(total, result);
      continue;
    }
    const Stats events = events_from_json(entry_events(layers[i], where), where);
    const std::optional<PassWidths> widths = entry_widths(layers[i], report, where);
    const std::optional<MemoryTraffic> traffic = entry_traffic(layers[i], where);
    EnergyResult result;
    try {
      result = compute_energy(events, table, widths ? &*widths : nullptr, options, traffic ? &*traffic : nullptr);
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
