// Accelergy-style energy reference tables (ERT, version 0.3 layout): the
// energy per action of one configured design, written for tools that take
// ERTs and read back as a flat table (docs/energy.md#ert).
#include <cmath>
#include <cstdio>
#include <set>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/energy/energy.h"

namespace mls {

namespace {

// One ERT action and the flat-table action it is.
struct ErtAction {
  const char* component;
  const char* action;
  const char* flat;
  std::optional<double> ActionPrices::*optional;  // where export reads it, if optional
  double ActionPrices::*member;                   // else here
  double VectorPrices::*vector = nullptr;         // or here, in ActionPrices::vector (optional in a flat table)
};

const std::vector<ErtAction>& ert_actions() {
  static const std::vector<ErtAction> actions = {
      {"mls_array.multiplier", "mul", "lowbit_mul", nullptr, &ActionPrices::element_mul},
      {"mls_array.multiplier", "mul_gated", "gated_mul", &ActionPrices::element_mul_gated, nullptr},
      {"mls_array.local_accumulator", "add", "int_acc_add", nullptr, &ActionPrices::acc_add},
      {"mls_array.local_accumulator", "add_gated", "gated_acc_add", &ActionPrices::acc_add_gated, nullptr},
      {"mls_array.group_scaler", "scale", "shift_add_scale", nullptr, &ActionPrices::group_scale},
      {"fp_units.fp32", "add", "fp32_add", nullptr, &ActionPrices::fp32_add},
      {"fp_units.fp32", "mul", "fp32_mul", nullptr, &ActionPrices::fp32_mul},
      {"fp_units.fp16", "add", "fp16_add", &ActionPrices::fp16_add, nullptr},
      {"fp_units.fp8_e4m3", "mul", "fp8_mul", &ActionPrices::fp8_mul, nullptr},
      {"fp_units.bf16", "mul", "bf16_mul", &ActionPrices::bf16_mul, nullptr},
      {"memory.buffer", "read_bit", "buffer_read_bit", &ActionPrices::read_bit, nullptr},
      {"memory.buffer", "write_bit", "buffer_write_bit", &ActionPrices::write_bit, nullptr},
      {"memory.dram", "read_bit", "dram_read_bit", &ActionPrices::dram_read_bit, nullptr},
      {"memory.dram", "write_bit", "dram_write_bit", &ActionPrices::dram_write_bit, nullptr},
      {"vector_unit.fp32", "add", "vector_add", nullptr, nullptr, &VectorPrices::add},
      {"vector_unit.fp32", "mul", "vector_mul", nullptr, nullptr, &VectorPrices::mul},
      {"vector_unit.fp32", "div", "vector_div", nullptr, nullptr, &VectorPrices::div},
      {"vector_unit.fp32", "exp", "vector_exp", nullptr, nullptr, &VectorPrices::exp},
      {"vector_unit.fp32", "rsqrt", "vector_rsqrt", nullptr, nullptr, &VectorPrices::rsqrt},
      {"vector_unit.quantizer", "max_compare", "quant_max_compare", nullptr, nullptr, &VectorPrices::max_compare},
      {"vector_unit.quantizer", "elem_round", "quant_elem_round", nullptr, nullptr, &VectorPrices::elem_round},
      {"vector_unit.quantizer", "scale_round", "quant_scale_round", nullptr, nullptr, &VectorPrices::scale_round},
      {"vector_unit.quantizer", "bf16_round", "bf16_round", nullptr, nullptr, &VectorPrices::bf16_round},
  };
  return actions;
}

const ErtAction* find_ert_action(const std::string& component, const std::string& action) {
  for (const ErtAction& a : ert_actions())
    if (component == a.component && action == a.action) return &a;
  return nullptr;
}

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::optional<double> price_of(const ActionPrices& p, const ErtAction& a) {
  if (a.vector) return p.vector.*(a.vector);
  return a.member ? std::optional<double>(p.*(a.member)) : p.*(a.optional);
}

const nlohmann::json& member(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": must be a mapping");
  if (!object.contains(key)) throw Error(where + "." + key + ": missing");
  return object.at(key);
}

std::string name_of(const nlohmann::json& object, const std::string& where) {
  const nlohmann::json& name = member(object, "name", where);
  if (!name.is_string()) throw Error(where + ".name: must be a string");
  return name.get<std::string>();
}

void check_keys(const nlohmann::json& object, const std::set<std::string>& known, const std::string& where) {
  for (const auto& item : object.items())
    if (!known.count(item.key())) throw Error(where + ": unknown key " + quoted_excerpt(item.key()));
}

// One action of one ERT table into `flat`.
void read_action(const std::string& component, const nlohmann::json& action, const std::string& where,
                 nlohmann::json& flat) {
  check_keys(action, {"name", "arguments", "energy"}, where);
  const std::string name = name_of(action, where);
  const ErtAction* known = find_ert_action(component, name);
  if (!known) throw Error(where + ": unknown action " + quoted_excerpt(component + "/" + name));
  if (action.contains("arguments") && !action["arguments"].is_null())
    throw Error(where + ".arguments: " + component + "/" + name + " takes no arguments (give null)");
  if (flat.contains(known->flat)) throw Error(where + ": " + component + "/" + name + " is given twice");
  const nlohmann::json& energy = member(action, "energy", where);
  if (!energy.is_number()) throw Error(where + ".energy: must be a number, got " + quoted_excerpt(energy.dump()));
  if (!std::isfinite(energy.get<double>()) || energy.get<double>() < 0)
    throw Error(where + ".energy: must be a finite non-negative number, got " + quoted_excerpt(energy.dump()));
  flat[known->flat] = energy;
}

}  // namespace

std::string export_ert(const EnergyTable& table, const PassWidths& widths, const std::string& design_note) {
  if (table.unit != "pJ")
    throw Error("--export-ert: table " + table.name + " is in " + table.unit + " units; an ERT holds pJ");
  const ActionPrices prices = table.prices_at(widths);
  std::string text = "# Energy reference table (Accelergy ERT layout), written by mlssim energy --export-ert.\n"
                     "# Energy per action in pJ, from " + table.name + " (" + table.tech + ")\n# for " +
                     design_note + ".\nERT:\n  version: '0.3'\n  tables:\n";
  std::string open_component;
  for (const ErtAction& a : ert_actions()) {
    const std::optional<double> price = price_of(prices, a);
    if (!price) continue;
    if (open_component != a.component) {
      text += std::string("  - name: ") + a.component + "\n    actions:\n";
      open_component = a.component;
    }
    text += std::string("    - name: ") + a.action + "\n      arguments: null\n      energy: " + number(*price) + "\n";
  }
  return text;
}

EnergyTable energy_table_from_ert(const nlohmann::json& doc, const std::string& source) {
  check_keys(doc, {"ERT"}, source);
  const nlohmann::json& ert = doc.at("ERT");
  check_keys(ert, {"version", "tables"}, source + ": ERT");
  const nlohmann::json& tables = member(ert, "tables", source + ": ERT");
  if (!tables.is_array()) throw Error(source + ": ERT.tables: must be a list of {name, actions}");
  nlohmann::json flat = nlohmann::json::object();
  for (size_t i = 0; i < tables.size(); ++i) {
    const std::string where = source + ": ERT.tables[" + std::to_string(i) + "]";
    check_keys(tables[i], {"name", "actions"}, where);
    const std::string component = name_of(tables[i], where);
    const nlohmann::json& actions = member(tables[i], "actions", where);
    if (!actions.is_array()) throw Error(where + ".actions: must be a list of {name, arguments, energy}");
    for (size_t j = 0; j < actions.size(); ++j)
      read_action(component, actions[j], where + ".actions[" + std::to_string(j) + "]", flat);
  }
  for (const ErtAction& a : ert_actions())
    if (!a.optional && !a.vector && !flat.contains(a.flat))
      throw Error(source + ": ERT: missing " + a.component + "/" + a.action);
  EnergyTable table = energy_table_from_json({{"tech", source}, {"unit", "pJ"}, {"energy", flat}}, source + " (ERT)");
  table.name = source;
  return table;
}

}  // namespace mls
