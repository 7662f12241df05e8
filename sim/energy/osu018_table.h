#pragma once
// The `osu018` energy table (docs/energy.md#energy-from-gates): energy per
// action fitted, by least squares in code, to the gate-level results of the
// project's own RTL on the OSU 0.18 um cells (rtl/power/osu018_gates.csv,
// written by rtl/power/fit_runs.py and compiled into the binary). Each block
// has its own few terms, chosen from what the gates show.
#include <string>
#include <vector>

#include "sim/energy/energy.h"

namespace mls {

// One row of rtl/power/osu018_gates.csv.
struct GateRow {
  std::string block;  // multiplier, local_accumulator, group_scaler, adder_tree, ..., fp32_mul, ...
  std::string role;   // fit: used by the fit; holdout: only judges it
  std::string elem, scale;
  int acc_bits = 0;
  double energy_pj = 0;
  double leakage_pj = 0;  // of energy_pj
};

// Parses CSV text (header first); throws mls::Error naming `source` and the line.
std::vector<GateRow> parse_gate_rows(const std::string& text, const std::string& source);
// The rows compiled into the binary.
const std::vector<GateRow>& osu018_gate_rows();

// The fitted model: coefficients per block (multiplying the block's terms,
// osu018_terms()), and the fp units' energies as measured.
struct Osu018Model {
  std::vector<double> multiplier, accumulator, scaler;
  double fp32_add = 0, fp32_mul = 0, fp8_mul = 0, fp16_add = 0, bf16_mul = 0;
  // A gated product keeps only leakage: the e2m4 multiplier's leakage share.
  double gated_fraction = 0;
};
Osu018Model fit_osu018(const std::vector<GateRow>& rows);

// A block's terms at one configuration: the model's energy is their dot
// product with the block's coefficients.
std::vector<double> multiplier_terms(const ElemFormat& x, const ElemFormat& y);
std::vector<double> accumulator_terms(const ElemFormat& x, const ElemFormat& y, int acc_bits);
std::vector<double> scaler_terms(const ScaleFormat& x, const ScaleFormat& y, int acc_bits);

ActionPrices osu018_prices(const Osu018Model& model, const PassWidths& w);
// The model's energy (pJ) for a CSV row's block and configuration.
double osu018_row_energy(const Osu018Model& model, const GateRow& row);

// The built-in table "osu018".
EnergyTable osu018_table();

}  // namespace mls
