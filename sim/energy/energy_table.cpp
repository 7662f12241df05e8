// Energy tables: the built-ins of docs/reference.md#events and user tables read from JSON or YAML.
// Every derived (not quoted from the source) value is marked "derived" here and
// explained in docs/energy.md.
#include <cmath>
#include <filesystem>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/io/document.h"
#include "sim/energy/energy.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

struct PricedAction {
  const char* action;
  double energy;
};

struct BuiltinTable {
  const char* name;
  const char* tech;
  const char* unit;
  std::vector<PricedAction> energy;
};

// Horowitz ISSCC 2014 quotes int8 and int32 adds only; an adder's energy grows
// about linearly with its width, so the 16-bit accumulator add is interpolated.
constexpr double kHorowitzInt8Add = 0.03;
constexpr double kHorowitzInt32Add = 0.1;
constexpr double kHorowitzInt16Add =
    kHorowitzInt8Add + (kHorowitzInt32Add - kHorowitzInt8Add) * (16 - 8) / (32 - 8);  // derived
constexpr double kHorowitzSram8KbRead64 = 10.0;  // one 64-bit read of an 8 KB SRAM

const std::vector<BuiltinTable>& builtin_tables() {
  static const std::vector<BuiltinTable> tables = {
      {"paper-unit", "paper-unit (relative to one fp32 add)", "relative",
       {{"lowbit_mul", 4.0 / 7.0},
        {"fp32_mul", 4.0},
        {"fp32_add", 1.0},
        {"int_acc_add", 1.0 / 20.0},
        {"shift_add_scale", 1.0 / 20.0}}},
      {"horowitz-45nm", "45 nm (Horowitz, ISSCC 2014)", "pJ",
       {{"lowbit_mul", 0.2},                                // int8 mul
        {"fp32_mul", 3.7},
        {"fp32_add", 0.9},
        {"int_acc_add", kHorowitzInt16Add},                 // derived: int16 add
        {"shift_add_scale", kHorowitzInt16Add},             // derived: one int16-class shift-add
        {"buffer_read", kHorowitzSram8KbRead64 / 8.0},      // derived: 8 elements per 64-bit word
        {"buffer_write", kHorowitzSram8KbRead64 / 2.0}}},  // derived: 2 fp32 per word, write ~ read
      {"mac-65nm", "65 nm synthesized MAC units, 100 MHz", "pJ",
       {{"lowbit_mul", 0.192},     // MLS design mul
        {"fp8_mul", 0.23},         // fp8-mul design mul
        {"fp32_mul", 5.32},        // fp32 design mul
        {"fp32_add", 1.40},        // fp32 / fp8-mul design acc (an fp32 accumulator)
        {"int_acc_add", 0.094},    // MLS design acc
        {"shift_add_scale", 0.094}}},  // derived: priced as the MLS integer add
  };
  return tables;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string action_names() {
  std::vector<std::string> names;
  for (const EnergyAction& a : energy_actions()) names.push_back(a.name);
  return join(names);
}

bool is_known_action(const std::string& name) {
  for (const EnergyAction& a : energy_actions())
    if (name == a.name) return true;
  return false;
}

nlohmann::json parse_table_file(const std::string& path) { return read_document_unordered(path, "energy table"); }

std::string text_field(const nlohmann::json& doc, const char* key, const std::string& source) {
  const nlohmann::json& value = doc.at(key);
  if (!value.is_string()) throw Error(source + ": '" + key + "' must be a string");
  return value.get<std::string>();
}

double energy_value(const nlohmann::json& value, const std::string& action, const std::string& source) {
  const std::string key = source + ": energy." + action;
  if (!value.is_number()) throw Error(key + ": value must be a number, got " + quoted_excerpt(value.dump()));
  const double energy = value.get<double>();
  if (!std::isfinite(energy)) throw Error(key + ": value must be finite");
  if (energy < 0) throw Error(key + ": value must be non-negative, got " + quoted_excerpt(value.dump()));
  return energy;
}

void check_top_level_keys(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) throw Error(source + ": an energy table must be an object with tech, unit, energy");
  for (const auto& item : doc.items())
    if (item.key() != "tech" && item.key() != "unit" && item.key() != "energy")
      throw Error(source + ": unknown key " + quoted_excerpt(item.key()) + " (expected tech, unit, energy)");
  for (const char* key : {"unit", "energy"})
    if (!doc.contains(key)) throw Error(source + ": missing required key '" + key + "'");
}

std::map<std::string, double> read_energies(const nlohmann::json& energy, const std::string& source) {
  if (!energy.is_object()) throw Error(source + ": 'energy' must be an object {action: value}");
  std::map<std::string, double> priced;
  for (const auto& item : energy.items()) {
    if (!is_known_action(item.key()))
      throw Error(source + ": energy." + quoted_excerpt(item.key()) + ": unknown action (known: " + action_names() + ")");
    priced[item.key()] = energy_value(item.value(), item.key(), source);
  }
  for (const EnergyAction& a : energy_actions())
    if (a.required && !priced.count(a.name))
      throw Error(source + ": energy." + a.name + ": missing required value");
  if (priced.count("buffer_read") != priced.count("buffer_write"))
    throw Error(source + ": energy.buffer_read and energy.buffer_write go together (price both or neither)");
  return priced;
}

}  // namespace

const std::vector<EnergyAction>& energy_actions() {
  static const std::vector<EnergyAction> actions = {
      {"lowbit_mul", true, "<=8-bit float / MLS (M+1)-bit integer multiply"},
      {"fp32_mul", true, "fp32 multiply"},
      {"fp32_add", true, "fp32 add"},
      {"int_acc_add", true, "16-bit integer local-accumulator add"},
      {"shift_add_scale", true, "group-scaler shift-add"},
      {"fp8_mul", false, "fp8 multiply (fp8 baseline; absent: lowbit_mul)"},
      {"buffer_read", false, "one operand-element buffer read"},
      {"buffer_write", false, "one output-element buffer write"},
  };
  return actions;
}

double EnergyTable::at(const std::string& action) const {
  const auto it = energy.find(action);
  if (it == energy.end()) throw Error("energy table " + name + " does not price " + action);
  return it->second;
}

std::vector<std::string> builtin_energy_table_names() {
  std::vector<std::string> names;
  for (const BuiltinTable& t : builtin_tables()) names.push_back(t.name);
  return names;
}

bool is_builtin_energy_table(const std::string& name) {
  for (const BuiltinTable& t : builtin_tables())
    if (name == t.name) return true;
  return false;
}

EnergyTable builtin_energy_table(const std::string& name) {
  for (const BuiltinTable& t : builtin_tables()) {
    if (name != t.name) continue;
    EnergyTable table{t.name, t.tech, t.unit, {}};
    for (const PricedAction& p : t.energy) table.energy[p.action] = p.energy;
    return table;
  }
  throw Error("unknown energy table '" + name + "' (built-in: " + join(builtin_energy_table_names()) + ")");
}

EnergyTable energy_table_from_json(const nlohmann::json& doc, const std::string& source) {
  check_top_level_keys(doc, source);
  EnergyTable table;
  table.name = source;
  table.unit = text_field(doc, "unit", source);
  if (table.unit != "relative" && table.unit != "pJ")
    throw Error(source + ": unit " + quoted_excerpt(table.unit) + " is not one of relative, pJ");
  table.tech = doc.contains("tech") ? text_field(doc, "tech", source)
                                    : std::filesystem::path(source).stem().string();
  table.energy = read_energies(doc.at("energy"), source);
  return table;
}

EnergyTable load_energy_table_file(const std::string& path) {
  return energy_table_from_json(parse_table_file(path), path);
}

EnergyTable load_energy_table(const std::string& name_or_path) {
  if (is_builtin_energy_table(name_or_path)) return builtin_energy_table(name_or_path);
  std::error_code ignored;
  if (std::filesystem::exists(name_or_path, ignored)) return load_energy_table_file(name_or_path);
  throw Error("unknown energy table " + quoted_excerpt(name_or_path) + ": not a built-in (" +
              join(builtin_energy_table_names()) + ") and not a file");
}

nlohmann::json energy_table_to_json(const EnergyTable& table) {
  nlohmann::json energy = nlohmann::json::object();
  for (const auto& [action, value] : table.energy) energy[action] = value;
  return {{"name", table.name}, {"tech", table.tech}, {"unit", table.unit}, {"energy", energy}};
}

}  // namespace mls
