// Energy tables: the built-ins (docs/energy.md#built-in-tables) and user
// tables read from JSON, YAML or an Accelergy-style ERT. The width-aware
// built-ins are fitted, in code, to the figures their sources quote, so each
// gives a quoted figure back at the width it was quoted for; every coefficient
// that is not a fit to quoted figures is marked "derived" and explained in
// docs/energy.md.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/energy/energy.h"
#include "sim/energy/osu018_table.h"
#include "sim/io/document.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

// a, b with a * u1 + b * v1 = y1 and a * u2 + b * v2 = y2: the two coefficients
// of a block that reproduce two quoted figures.
struct Fit {
  double a, b;
};
Fit fit_two_points(double u1, double v1, double y1, double u2, double v2, double y2) {
  const double det = u1 * v2 - u2 * v1;
  return {(y1 * v2 - y2 * v1) / det, (u1 * y2 - u2 * y1) / det};
}

// (m + 1) * ceil(log2(m + 1)): the alignment term of fp_adder().
double align_bits(const FloatFormat& f) {
  Coefficients unit;
  unit.fp_add_align_bit = 1;
  return fp_adder(unit, f);
}
double pp_bits(const FloatFormat& f) { return double(f.m + 1) * (f.m + 1); }

// Horowitz, ISSCC 2014, 45 nm (pJ): the quoted figures.
constexpr double kH_Int8Add = 0.03, kH_Int32Add = 0.1, kH_Int8Mul = 0.2, kH_Int32Mul = 3.1;
constexpr double kH_Fp16Add = 0.4, kH_Fp16Mul = 1.1, kH_Fp32Add = 0.9, kH_Fp32Mul = 3.7;
constexpr double kH_Sram8KbRead64 = 10.0;  // one 64-bit read of an 8 KB SRAM
constexpr double kH_DramAccess64 = 1300.0;  // one 64-bit DRAM access: the low end of the quoted 1300-2600
// Derived (assumptions, docs/energy.md): a 2:1 mux bit costs half an adder bit;
// a gated action keeps 10% of its energy (zero detect, clock gate).
constexpr double kMuxPerAdderBit = 0.5;
constexpr double kGatedFraction = 0.1;

Coefficients horowitz_45nm() {
  Coefficients c;
  const Fit add = fit_two_points(1, 8, kH_Int8Add, 1, 32, kH_Int32Add);
  c.int_add_op = add.a;
  c.int_add_bit = add.b;
  const Fit mul = fit_two_points(1, 8 * 8, kH_Int8Mul, 1, 32 * 32, kH_Int32Mul);
  c.int_mul_op = mul.a;
  c.int_mul_pp_bit = mul.b;
  c.shift_mux_bit = kMuxPerAdderBit * c.int_add_bit;  // derived
  const Fit fadd = fit_two_points(kFp16.bits(), align_bits(kFp16), kH_Fp16Add, kFp32.bits(), align_bits(kFp32),
                                  kH_Fp32Add);
  c.fp_add_bit = fadd.a;
  c.fp_add_align_bit = fadd.b;
  const Fit fmul =
      fit_two_points(kFp16.bits(), pp_bits(kFp16), kH_Fp16Mul, kFp32.bits(), pp_bits(kFp32), kH_Fp32Mul);
  c.fp_mul_bit = fmul.a;
  c.fp_mul_pp_bit = fmul.b;
  c.sram_read_bit = kH_Sram8KbRead64 / 64;   // per bit of a 64-bit read
  c.sram_write_bit = kH_Sram8KbRead64 / 64;  // derived: write taken equal to read
  c.dram_read_bit = kH_DramAccess64 / 64;
  c.dram_write_bit = kH_DramAccess64 / 64;   // derived: write taken equal to read
  c.gated_fraction = kGatedFraction;         // derived
  return c;
}

// Synthesized MAC units at 65 nm, 100 MHz (pJ per operation).
constexpr double kM_Fp32Mul = 5.32, kM_Fp32Acc = 1.40, kM_Fp8Mul = 0.23, kM_MlsMul = 0.192, kM_MlsAcc = 0.094;
// The MLS design's widths (the paper's CIFAR-10 setting: e2m1 elements,
// 16-bit accumulator): an assumption, docs/energy.md.
constexpr ElemFormat kM_MlsElem{2, 1};
constexpr int kM_MlsAccBits = 16;

// mac-65nm quotes one figure per block where Horowitz quotes two, so each
// block keeps the shape of Horowitz's fit and is scaled to the 65 nm figure;
// the fp multiplier has two figures (fp32, fp8) and is fitted to them.
Coefficients mac_65nm() {
  const Coefficients h = horowitz_45nm();
  Coefficients c;
  const double add_scale = kM_MlsAcc / local_accumulator_add(h, kM_MlsAccBits);
  c.int_add_op = h.int_add_op * add_scale;
  c.int_add_bit = h.int_add_bit * add_scale;
  const double mul_scale = kM_MlsMul / element_multiplier(h, kM_MlsElem, kM_MlsElem);
  c.int_mul_op = h.int_mul_op * mul_scale;
  c.int_mul_pp_bit = h.int_mul_pp_bit * mul_scale;
  c.shift_mux_bit = h.shift_mux_bit * mul_scale;
  const double fadd_scale = kM_Fp32Acc / fp_adder(h, kFp32);
  c.fp_add_bit = h.fp_add_bit * fadd_scale;
  c.fp_add_align_bit = h.fp_add_align_bit * fadd_scale;
  const Fit fmul = fit_two_points(kFp8E4M3.bits(), pp_bits(kFp8E4M3), kM_Fp8Mul, kFp32.bits(), pp_bits(kFp32),
                                  kM_Fp32Mul);
  c.fp_mul_bit = fmul.a;
  c.fp_mul_pp_bit = fmul.b;
  c.gated_fraction = kGatedFraction;  // derived
  return c;
}

struct PricedAction {
  const char* action;
  double energy;
};

EnergyTable paper_unit() {
  EnergyTable t{"paper-unit", "paper-unit (relative to one fp32 add)", "relative", EnergyTable::Model::flat, {}, {},
                {}, {}};
  for (const PricedAction& p : {PricedAction{"lowbit_mul", 4.0 / 7.0}, PricedAction{"fp32_mul", 4.0},
                                PricedAction{"fp32_add", 1.0}, PricedAction{"int_acc_add", 1.0 / 20.0},
                                PricedAction{"shift_add_scale", 1.0 / 20.0},
                                // derived: the group scaler's multiplier form (M_g >= 2) as one
                                // low-bit multiply, the paper's figure for a multiply of 8 bits or fewer
                                PricedAction{"mul_scale", 4.0 / 7.0}})
    t.energy[p.action] = p.energy;
  return t;
}

EnergyTable width_aware(const char* name, const char* tech, const Coefficients& c) {
  EnergyTable t{name, tech, "pJ", EnergyTable::Model::width_aware, {}, c, {}, {}};
  return t;
}

std::vector<EnergyTable> builtin_tables() {
  return {paper_unit(), width_aware("horowitz-45nm", "45 nm (Horowitz, ISSCC 2014)", horowitz_45nm()),
          width_aware("mac-65nm", "65 nm synthesized MAC units, 100 MHz", mac_65nm()), osu018_table()};
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

std::string coefficient_names() {
  std::vector<std::string> names;
  for (const CoefficientInfo& c : coefficient_infos()) names.push_back(c.name);
  return join(names);
}

bool is_known_action(const std::string& name) {
  for (const EnergyAction& a : energy_actions())
    if (name == a.name) return true;
  return false;
}

const CoefficientInfo* find_coefficient(const std::string& name) {
  for (const CoefficientInfo& c : coefficient_infos())
    if (name == c.name) return &c;
  return nullptr;
}

std::string text_field(const nlohmann::json& doc, const char* key, const std::string& source) {
  const nlohmann::json& value = doc.at(key);
  if (!value.is_string()) throw Error(source + ": '" + key + "' must be a string");
  return value.get<std::string>();
}

// A price or coefficient at most kMaxEnergyValue keeps every total finite: a
// price is a few coefficients times width factors under 10^4, a count under
// 2^64 (bits: 2^70), a report under 10^6 entries of ~30 terms, so a total stays
// under 10^(250+4+22+6+2), far below a double's 1.8e308. `limit` is lower for a fraction.
double energy_value(const nlohmann::json& value, const std::string& key, double limit = kMaxEnergyValue) {
  if (!value.is_number()) throw Error(key + ": value must be a number, got " + quoted_excerpt(value.dump()));
  const double energy = value.get<double>();
  if (!std::isfinite(energy)) throw Error(key + ": value must be finite");
  if (energy < 0) throw Error(key + ": value must be non-negative, got " + quoted_excerpt(value.dump()));
  if (energy > limit) {
    char max[32];
    std::snprintf(max, sizeof max, "%g", limit);
    throw Error(key + ": value " + quoted_excerpt(value.dump()) + " is over " + max +
                (limit < 1 + 1e-9 ? " (a fraction)" : ", the most a table may give (energy totals would overflow)"));
  }
  return energy;
}

void check_top_level_keys(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object())
    throw Error(source + ": an energy table must be an object with tech, unit and energy or coefficients");
  for (const auto& item : doc.items())
    if (item.key() != "tech" && item.key() != "unit" && item.key() != "energy" && item.key() != "coefficients")
      throw Error(source + ": unknown key " + quoted_excerpt(item.key()) + " (expected tech, unit, energy or coefficients)");
  if (!doc.contains("unit")) throw Error(source + ": missing required key 'unit'");
  if (doc.contains("energy") == doc.contains("coefficients"))
    throw Error(source + ": give exactly one of 'energy' (a flat table) and 'coefficients' (a width-aware table)");
}

void check_pair(const std::map<std::string, double>& priced, const char* a, const char* b, const std::string& where) {
  if (priced.count(a) != priced.count(b))
    throw Error(where + "." + a + " and " + where + "." + b + " go together (give both or neither)");
}

std::map<std::string, double> read_energies(const nlohmann::json& energy, const std::string& source) {
  if (!energy.is_object()) throw Error(source + ": 'energy' must be an object {action: value}");
  std::map<std::string, double> priced;
  for (const auto& item : energy.items()) {
    if (item.key() == "buffer_read" || item.key() == "buffer_write")
      throw Error(source + ": energy." + item.key() + ": buffers are priced per bit now; use " + item.key() +
                  "_bit (energy per bit moved)");
    if (!is_known_action(item.key()))
      throw Error(source + ": energy." + quoted_excerpt(item.key()) + ": unknown action (known: " + action_names() + ")");
    priced[item.key()] = energy_value(item.value(), source + ": energy." + item.key());
  }
  for (const EnergyAction& a : energy_actions())
    if (a.required && !priced.count(a.name)) throw Error(source + ": energy." + a.name + ": missing required value");
  check_pair(priced, "buffer_read_bit", "buffer_write_bit", source + ": energy");
  check_pair(priced, "dram_read_bit", "dram_write_bit", source + ": energy");
  if (priced.count("dram_read_bit") && !priced.count("buffer_read_bit"))
    throw Error(source + ": energy.dram_read_bit: DRAM is priced only with the buffers (buffer_read_bit, buffer_write_bit)");
  check_pair(priced, "gated_mul", "gated_acc_add", source + ": energy");
  return priced;
}

Coefficients read_coefficients(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) throw Error(source + ": 'coefficients' must be an object {name: value}");
  Coefficients c;
  std::map<std::string, double> given;
  for (const auto& item : doc.items()) {
    const CoefficientInfo* info = find_coefficient(item.key());
    if (!info)
      throw Error(source + ": coefficients." + quoted_excerpt(item.key()) + ": unknown coefficient (known: " +
                  coefficient_names() + ")");
    const double value = energy_value(item.value(), source + ": coefficients." + item.key(),
                                      item.key() == "gated_fraction" ? 1.0 : kMaxEnergyValue);
    given[item.key()] = value;
    if (info->required) c.*(info->member) = value;
    else c.*(info->optional) = value;
  }
  for (const CoefficientInfo& info : coefficient_infos())
    if (info.required && !given.count(info.name))
      throw Error(source + ": coefficients." + info.name + ": missing required value");
  check_pair(given, "sram_read_bit", "sram_write_bit", source + ": coefficients");
  check_pair(given, "dram_read_bit", "dram_write_bit", source + ": coefficients");
  if (given.count("dram_read_bit") && !given.count("sram_read_bit"))
    throw Error(source + ": coefficients.dram_read_bit: DRAM is priced only with the buffers (sram_read_bit, sram_write_bit)");
  return c;
}

std::optional<double> optional_price(const EnergyTable& t, const char* action) {
  return t.prices(action) ? std::optional<double>(t.at(action)) : std::nullopt;
}

// The vector unit's optional flat actions (docs/energy.md#vector-work).
struct VectorAction {
  const char* action;
  double VectorPrices::*price;
};
const std::vector<VectorAction>& vector_actions() {
  static const std::vector<VectorAction> actions = {
      {"vector_add", &VectorPrices::add},           {"vector_mul", &VectorPrices::mul},
      {"vector_div", &VectorPrices::div},           {"vector_exp", &VectorPrices::exp},
      {"vector_rsqrt", &VectorPrices::rsqrt},       {"quant_max_compare", &VectorPrices::max_compare},
      {"quant_elem_round", &VectorPrices::elem_round}, {"quant_scale_round", &VectorPrices::scale_round},
      {"bf16_round", &VectorPrices::bf16_round}};
  return actions;
}

ActionPrices flat_prices(const EnergyTable& t, const PassWidths& w) {
  ActionPrices p;
  p.element_mul = t.at("lowbit_mul");
  p.acc_add = t.at("int_acc_add");
  // Without a figure of its own, the multiplier form of the scaler takes the
  // table's one group-scaler figure.
  const bool multiplies = group_scaler_multiplies(w.x_scale, w.y_scale) && t.prices("mul_scale");
  p.group_scale = t.at(multiplies ? "mul_scale" : "shift_add_scale");
  p.fp32_add = t.at("fp32_add");
  p.fp32_mul = t.at("fp32_mul");
  p.element_mul_gated = optional_price(t, "gated_mul");
  p.acc_add_gated = optional_price(t, "gated_acc_add");
  // An fp8 array is a low-bit multiply followed by fp32 adds: without its own
  // figure, the fp8 multiply is the table's low-bit multiply.
  p.fp8_mul = t.prices("fp8_mul") ? t.at("fp8_mul") : t.at("lowbit_mul");
  p.fp16_add = optional_price(t, "fp16_add");
  p.bf16_mul = optional_price(t, "bf16_mul");
  p.read_bit = optional_price(t, "buffer_read_bit");
  p.write_bit = optional_price(t, "buffer_write_bit");
  p.dram_read_bit = optional_price(t, "dram_read_bit");
  p.dram_write_bit = optional_price(t, "dram_write_bit");
  // derived: a flat table's one integer figure (the accumulator add) for the
  // quantizer's integer adds at every width (docs/energy.md#vector-work).
  const double int_add = t.at("int_acc_add");
  p.vector = vector_prices(p.fp32_add, p.fp32_mul, [int_add](int) { return int_add; }, w);
  // A table (an exported ERT, say) may give the vector unit's prices itself.
  for (const VectorAction& v : vector_actions())
    if (t.prices(v.action)) p.vector.*(v.price) = t.at(v.action);
  return p;
}

}  // namespace

const std::vector<EnergyAction>& energy_actions() {
  static const std::vector<EnergyAction> actions = {
      {"lowbit_mul", true, "MLS element multiply ((M_x+1)-bit multiply and shift)"},
      {"fp32_mul", true, "fp32 multiply"},
      {"fp32_add", true, "fp32 add"},
      {"int_acc_add", true, "local-accumulator integer add"},
      {"shift_add_scale", true, "group-scaler operation"},
      {"mul_scale", false,
       "group-scaler operation in its multiplier form (a group-scale mantissa of 2 bits or more); absent: "
       "shift_add_scale"},
      {"fp8_mul", false, "fp8 (e4m3) multiply of the fp8 baselines; absent: lowbit_mul"},
      {"fp16_add", false, "fp16 add (fp8-fp16acc baseline; absent: that baseline is not priced)"},
      {"bf16_mul", false, "bf16 multiply (bf16 baseline; absent: that baseline is not priced)"},
      {"gated_mul", false, "MLS multiply with a zero operand, gated (--gating; with gated_acc_add)"},
      {"gated_acc_add", false, "local-accumulator add of a gated product (--gating; with gated_mul)"},
      {"buffer_read_bit", false, "on-chip buffer read, per bit (with buffer_write_bit)"},
      {"buffer_write_bit", false, "on-chip buffer write, per bit (with buffer_read_bit)"},
      {"dram_read_bit", false, "DRAM read, per bit (with dram_write_bit and the buffer pair)"},
      {"dram_write_bit", false, "DRAM write, per bit (with dram_read_bit and the buffer pair)"},
      {"vector_add", false, "vector unit fp32 add (absent: fp32_add)"},
      {"vector_mul", false, "vector unit fp32 multiply (absent: fp32_mul)"},
      {"vector_div", false, "vector unit fp32 divide (absent: 5 fp32_mul + 2 fp32_add)"},
      {"vector_exp", false, "vector unit fp32 exp or log (absent: 6 fp32_mul + 6 fp32_add)"},
      {"vector_rsqrt", false, "vector unit fp32 reciprocal square root (absent: 6 fp32_mul + 2 fp32_add)"},
      {"quant_max_compare", false, "quantizer max-abs compare per element (absent: int_acc_add)"},
      {"quant_elem_round", false, "quantizer rounding per element (absent: fp32_mul + int_acc_add)"},
      {"quant_scale_round", false, "quantizer group-scale computation (absent: fp32_mul + int_acc_add)"},
      {"bf16_round", false, "bf16 baseline rounding per element (absent: int_acc_add)"},
  };
  return actions;
}

double EnergyTable::at(const std::string& action) const {
  const auto it = energy.find(action);
  if (it == energy.end()) throw Error("energy table " + name + " does not price " + action);
  return it->second;
}

bool EnergyTable::prices_memory() const {
  return model == Model::flat ? prices("buffer_read_bit") : coefficients.sram_read_bit.has_value();
}

bool EnergyTable::prices_gating() const {
  return model == Model::flat ? prices("gated_mul") : coefficients.gated_fraction.has_value();
}

ActionPrices EnergyTable::prices_at(const PassWidths& widths) const {
  if (custom_prices) return custom_prices(widths);
  return model == Model::flat ? flat_prices(*this, widths) : width_aware_prices(coefficients, widths);
}

std::vector<std::string> builtin_energy_table_names() {
  std::vector<std::string> names;
  for (const EnergyTable& t : builtin_tables()) names.push_back(t.name);
  return names;
}

bool is_builtin_energy_table(const std::string& name) {
  for (const EnergyTable& t : builtin_tables())
    if (name == t.name) return true;
  return false;
}

EnergyTable builtin_energy_table(const std::string& name) {
  for (const EnergyTable& t : builtin_tables())
    if (name == t.name) return t;
  throw Error("unknown energy table '" + name + "' (built-in: " + join(builtin_energy_table_names()) + ")");
}

EnergyTable energy_table_from_json(const nlohmann::json& doc, const std::string& source) {
  if (doc.is_object() && doc.contains("ERT")) return energy_table_from_ert(doc, source);
  check_top_level_keys(doc, source);
  EnergyTable table;
  table.name = source;
  table.unit = text_field(doc, "unit", source);
  if (table.unit != "relative" && table.unit != "pJ")
    throw Error(source + ": unit " + quoted_excerpt(table.unit) + " is not one of relative, pJ");
  table.tech = doc.contains("tech") ? text_field(doc, "tech", source)
                                    : std::filesystem::path(source).stem().string();
  if (doc.contains("energy")) {
    table.model = EnergyTable::Model::flat;
    table.energy = read_energies(doc.at("energy"), source);
  } else {
    table.model = EnergyTable::Model::width_aware;
    table.coefficients = read_coefficients(doc.at("coefficients"), source);
  }
  return table;
}

EnergyTable load_energy_table_file(const std::string& path) {
  return energy_table_from_json(read_document_unordered(path, "energy table"), path);
}

EnergyTable load_energy_table(const std::string& name_or_path) {
  if (is_builtin_energy_table(name_or_path)) return builtin_energy_table(name_or_path);
  std::error_code ignored;
  if (std::filesystem::exists(name_or_path, ignored)) return load_energy_table_file(name_or_path);
  throw Error("unknown energy table " + quoted_excerpt(name_or_path) + ": not a built-in (" +
              join(builtin_energy_table_names()) + ") and not a file");
}

nlohmann::json energy_table_to_json(const EnergyTable& table) {
  nlohmann::json out = {{"name", table.name}, {"tech", table.tech}, {"unit", table.unit}};
  if (table.model == EnergyTable::Model::flat) {
    nlohmann::json energy = nlohmann::json::object();
    for (const auto& [action, value] : table.energy) energy[action] = value;
    out["energy"] = energy;
    return out;
  }
  if (!table.fitted.is_null()) {
    out["coefficients"] = table.fitted;
    return out;
  }
  nlohmann::json coefficients = nlohmann::json::object();
  for (const CoefficientInfo& info : coefficient_infos()) {
    if (info.required) coefficients[info.name] = table.coefficients.*(info.member);
    else if (const auto& value = table.coefficients.*(info.optional)) coefficients[info.name] = *value;
  }
  out["coefficients"] = coefficients;
  return out;
}

}  // namespace mls
