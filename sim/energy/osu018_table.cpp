// The osu018 table: gate-level energies of the project's RTL, fitted per block
// by least squares (docs/energy.md#energy-from-gates).
#include "sim/energy/osu018_table.h"

#include <cmath>
#include <map>
#include <sstream>

#include "ref/core/error.h"
#include "sim/energy/osu018_gates_csv.h"  // generated from rtl/power/osu018_gates.csv

namespace mls {

namespace {

// Stages of a logarithmic shifter covering 0..n.
int shift_stages(int n) {
  int stages = 0;
  while ((1 << stages) < n + 1) ++stages;
  return stages;
}

// Magnitude bits of the RTL's element product, mls_elem_mul's PW: each
// significand is M + 1 bits (its top bit 0 when E = 0), shifted by up to
// 2^E - 2.
int product_bits(const ElemFormat& x, const ElemFormat& y) {
  return (x.m + 1) + (y.m + 1) + element_max_shift(x) + element_max_shift(y);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// Solves min sum_i ((terms_i . c - y_i) / y_i)^2: relative residuals, since
// the rule the fit must meet is relative (15% per block).
std::vector<double> least_squares(const std::vector<std::vector<double>>& terms, const std::vector<double>& y,
                                  const std::string& block) {
  const size_t n = terms.empty() ? 0 : terms[0].size();
  if (terms.size() < n || n == 0) throw Error("osu018: too few rows to fit the " + block);
  std::vector<std::vector<double>> a(n, std::vector<double>(n + 1, 0.0));  // normal equations | rhs
  for (size_t r = 0; r < terms.size(); ++r) {
    const double w = 1.0 / (y[r] * y[r]);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) a[i][j] += w * terms[r][i] * terms[r][j];
      a[i][n] += w * terms[r][i] * y[r];
    }
  }
  for (size_t col = 0; col < n; ++col) {  // Gauss-Jordan with partial pivoting
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r)
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    if (std::fabs(a[pivot][col]) < 1e-300) throw Error("osu018: the " + block + " rows do not determine its terms");
    std::swap(a[col], a[pivot]);
    for (size_t r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (size_t j = col; j <= n; ++j) a[r][j] -= f * a[col][j];
    }
  }
  std::vector<double> c(n);
  for (size_t i = 0; i < n; ++i) c[i] = a[i][n] / a[i][i];
  return c;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

const GateRow* find_row(const std::vector<GateRow>& rows, const std::string& block) {
  for (const GateRow& r : rows)
    if (r.block == block) return &r;
  return nullptr;
}

double measured(const std::vector<GateRow>& rows, const std::string& block) {
  const GateRow* r = find_row(rows, block);
  if (!r) throw Error("osu018: rtl/power/osu018_gates.csv has no " + block + " row");
  return r->energy_pj;
}

std::vector<double> row_terms(const GateRow& r) {
  if (r.block == "multiplier") {
    const ElemFormat f = parse_elem_format(r.elem);
    return multiplier_terms(f, f);
  }
  if (r.block == "local_accumulator") {
    const ElemFormat f = parse_elem_format(r.elem);
    return accumulator_terms(f, f, r.acc_bits);
  }
  const ScaleFormat s = parse_scale_format(r.scale);
  return scaler_terms(s, s, r.acc_bits);
}

std::vector<double> fit_block(const std::vector<GateRow>& rows, const std::string& block) {
  std::vector<std::vector<double>> terms;
  std::vector<double> y;
  for (const GateRow& r : rows) {
    if (r.block != block || r.role != "fit") continue;
    terms.push_back(row_terms(r));
    y.push_back(r.energy_pj);
  }
  return least_squares(terms, y, block);
}

}  // namespace

std::vector<GateRow> parse_gate_rows(const std::string& text, const std::string& source) {
  std::stringstream in(text);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* key : {"block", "role", "elem", "scale", "acc_bits", "energy_pj", "leakage_pj"})
    if (!col.count(key)) throw Error(source + ": header lacks the column " + key);
  std::vector<GateRow> rows;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::vector<std::string> f = split(line);
    if (f.size() != header.size()) throw Error(source + ":" + std::to_string(n) + ": wrong number of fields");
    try {
      GateRow r{f[col["block"]], f[col["role"]], f[col["elem"]], f[col["scale"]],
                f[col["acc_bits"]].empty() ? 0 : std::stoi(f[col["acc_bits"]]), std::stod(f[col["energy_pj"]]),
                std::stod(f[col["leakage_pj"]])};
      rows.push_back(r);
    } catch (const std::exception&) {
      throw Error(source + ":" + std::to_string(n) + ": acc_bits, energy_pj or leakage_pj is not a number");
    }
  }
  return rows;
}

const std::vector<GateRow>& osu018_gate_rows() {
  static const std::vector<GateRow> rows = parse_gate_rows(kOsu018GatesCsv, "rtl/power/osu018_gates.csv");
  return rows;
}

// The multiplier: a constant (decode, sign), the partial-product array
// (a x b significand bits: M + 1, or M when E = 0, whose top bit is 0), the
// shifter (stages x product width) and the negation over the product width.
std::vector<double> multiplier_terms(const ElemFormat& x, const ElemFormat& y) {
  const int a = element_mantissa_bits(x), b = element_mantissa_bits(y);
  const int shift = element_max_shift(x) + element_max_shift(y), width = a + b + shift;
  return {1.0, double(a * b), double(shift_stages(shift) * width), double(width)};
}

// The local accumulator: a constant (control, first/zero select), the adder
// and saturation over the RTL's sum width max(acc, product + 1) + 1, and the
// register's acc_bits flip-flops.
std::vector<double> accumulator_terms(const ElemFormat& x, const ElemFormat& y, int acc_bits) {
  const int sum_bits = std::max(acc_bits, product_bits(x, y) + 1) + 1;
  return {1.0, double(sum_bits), double(acc_bits)};
}

// The group scaler: a fixed part the cells show at any width (the exponent
// arithmetic of the rounding point, the rounding increment, the fp32
// encoding), a part linear in the chunk sum's width (its magnitude, the
// leading-one detector, the normalising shift) and the shift-adds of the
// group-scale mantissas (M_gx + M_gy adders of acc + M_gx + M_gy bits).
std::vector<double> scaler_terms(const ScaleFormat& x, const ScaleFormat& y, int acc_bits) {
  const int mg = x.m + y.m;
  return {1.0, double(acc_bits), double(mg * (acc_bits + mg))};
}

Osu018Model fit_osu018(const std::vector<GateRow>& rows) {
  Osu018Model m;
  m.multiplier = fit_block(rows, "multiplier");
  m.accumulator = fit_block(rows, "local_accumulator");
  m.scaler = fit_block(rows, "group_scaler");
  // mlssim prices the tree's and the output accumulator's additions alike:
  // their mean over a full 16-row tile (15 tree additions, 1 accumulation).
  m.fp32_add = (15.0 * measured(rows, "adder_tree") + measured(rows, "output_accumulator")) / 16.0;
  m.fp32_mul = measured(rows, "fp32_mul");
  m.fp8_mul = measured(rows, "fp8_e4m3_mul");
  m.fp16_add = measured(rows, "fp16_add");
  m.bf16_mul = measured(rows, "bf16_mul");
  for (const GateRow& r : rows)
    if (r.block == "multiplier" && r.elem == "e2m4") m.gated_fraction = r.leakage_pj / r.energy_pj;
  if (m.gated_fraction <= 0) throw Error("osu018: rtl/power/osu018_gates.csv has no e2m4 multiplier row");
  return m;
}

double osu018_row_energy(const Osu018Model& model, const GateRow& row) {
  if (row.block == "multiplier") return dot(model.multiplier, row_terms(row));
  if (row.block == "local_accumulator") return dot(model.accumulator, row_terms(row));
  if (row.block == "group_scaler") return dot(model.scaler, row_terms(row));
  throw Error("osu018: no fitted model for the block " + row.block);
}

ActionPrices osu018_prices(const Osu018Model& model, const PassWidths& w) {
  ActionPrices p;
  p.element_mul = dot(model.multiplier, multiplier_terms(w.x_elem, w.y_elem));
  p.acc_add = dot(model.accumulator, accumulator_terms(w.x_elem, w.y_elem, w.acc_bits));
  p.group_scale = dot(model.scaler, scaler_terms(w.x_scale, w.y_scale, w.acc_bits));
  p.fp32_add = model.fp32_add;
  p.fp32_mul = model.fp32_mul;
  p.fp8_mul = model.fp8_mul;
  p.fp16_add = model.fp16_add;
  p.bf16_mul = model.bf16_mul;
  p.element_mul_gated = model.gated_fraction * p.element_mul;
  p.acc_add_gated = model.gated_fraction * p.acc_add;
  // derived (no gate result of a vector unit): the fp32 adder and multiplier
  // measured at gate level, and the fitted local accumulator at each width as
  // the quantizer's integer adder (docs/energy.md#vector-work).
  p.vector = vector_prices(p.fp32_add, p.fp32_mul,
                           [&](int bits) { return dot(model.accumulator, accumulator_terms(w.x_elem, w.y_elem, bits)); },
                           w);
  return p;
}

EnergyTable osu018_table() {
  static const Osu018Model model = fit_osu018(osu018_gate_rows());
  EnergyTable t{"osu018", "OSU 0.18 um cells, gate-level power of the project's RTL (rtl/power)", "pJ",
                EnergyTable::Model::width_aware, {}, {}, {}, {}};
  t.coefficients.gated_fraction = model.gated_fraction;  // prices_gating()
  t.custom_prices = [](const PassWidths& w) { return osu018_prices(model, w); };
  t.fitted = {{"multiplier", model.multiplier}, {"local_accumulator", model.accumulator},
              {"group_scaler", model.scaler},   {"fp32_add", model.fp32_add},
              {"fp32_mul", model.fp32_mul},     {"fp8_mul", model.fp8_mul},
              {"fp16_add", model.fp16_add},     {"bf16_mul", model.bf16_mul},
              {"gated_fraction", model.gated_fraction}};
  return t;
}

}  // namespace mls
