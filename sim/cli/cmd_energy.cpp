// `mlssim energy`: prices the event counts of a run report and prints (and
// optionally writes) the energy; writes the energy per action of a design as
// an Accelergy-style ERT.
#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/energy/energy.h"
#include "sim/io/json_file.h"
#include "sim/params/params.h"

namespace mls {

namespace {

namespace po = boost::program_options;

// The built-in energy table names, from the energy table registry, joined by `sep`.
std::string table_names(const char* sep) {
  std::string names;
  for (const std::string& name : builtin_energy_table_names()) names += (names.empty() ? "" : sep) + name;
  return names;
}

// A design flag's entry in the parameter table (sim/params): its default, help
// and range are declared there once, for `run` and `energy` alike.
const params::Param& param(const char* name) { return *params::find(name); }

std::string usage() {
  return "usage: mlssim energy REPORT.json [--tech " + table_names("|") + "|TABLE_FILE] [--gating] "
         "[--out ENERGY.json] [--export-ert ERT.yaml [--pass fwd|bwd-data|bwd-weight]]\n"
         "       mlssim energy --export-ert ERT.yaml --tech TABLE [--elem " + params::default_text(param("elem")) +
         "] [--scale " + params::default_text(param("scale")) + "] [--acc-bits " +
         params::default_text(param("acc_bits")) + "]";
}

struct EnergyArgs {
  std::string report;
  std::string tech = builtin_energy_table_names().front();  // the first built-in table, paper-unit
  std::string out;
  std::string ert;
  std::string pass = "fwd";
  std::string elem = params::default_text(param("elem")), scale = params::default_text(param("scale"));
  std::string acc_bits = params::default_text(param("acc_bits"));
  bool gating = false;
  bool help = false;
};

// The design flags, --elem, --scale and --acc-bits, as the parameter table has them.
void add_design_options(po::options_description& options, EnergyArgs& parsed) {
  const std::string when = "--export-ert without a report: ";
  options.add_options()("elem", po::value(&parsed.elem)->default_value(parsed.elem),
                        (when + params::help(param("elem"))).c_str())(
      "scale", po::value(&parsed.scale)->default_value(parsed.scale), (when + params::help(param("scale"))).c_str())(
      "acc-bits", po::value(&parsed.acc_bits)->default_value(parsed.acc_bits),
      (when + params::help(param("acc_bits"))).c_str());
}

EnergyArgs parse_args(const std::vector<std::string>& args) {
  EnergyArgs parsed;
  po::options_description options("options");
  const std::string tech_help = "energy table: " + table_names(", ") + ", or a JSON/YAML table or ERT file";
  options.add_options()("help,h", "show this help")(
      "tech", po::value(&parsed.tech)->default_value(parsed.tech), tech_help.c_str())(
      "gating", po::bool_switch(&parsed.gating),
      "price products with a zero operand (mul_zero) and their accumulator adds at the gated cost")(
      "out", po::value(&parsed.out), "write the report with energy added to this JSON file")(
      "export-ert", po::value(&parsed.ert)->value_name("ERT.yaml"),
      "write the energy per action of the design as an Accelergy-style ERT (YAML)")(
      "pass", po::value(&parsed.pass)->default_value(parsed.pass),
      "--export-ert with a report: the pass whose operand formats make the design");
  add_design_options(options, parsed);
  options.add_options()("report", po::value(&parsed.report)->value_name("REPORT.json"),
                        "run report (mlssim run --report)");
  po::positional_options_description positional;
  positional.add("report", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  po::notify(vm);
  parsed.help = vm.count("help") != 0;
  if (parsed.help) std::cout << usage() << "\n\n" << options << "\n";
  else if (parsed.report.empty() && parsed.ert.empty()) throw Error("missing REPORT.json (see --help)");
  else if (!parsed.report.empty() && (!vm["elem"].defaulted() || !vm["scale"].defaulted() || !vm["acc-bits"].defaulted()))
    throw Error("--elem, --scale and --acc-bits describe a design without a report; with REPORT.json the design is "
                "the report's");
  else if (!parsed.out.empty() && parsed.report.empty()) throw Error("--out needs REPORT.json");
  return parsed;
}

// --- the summary table -----------------------------------------------------

std::string number_cell(const nlohmann::json& value, const char* format) {
  if (!value.is_number()) return "-";
  char cell[32];
  std::snprintf(cell, sizeof cell, format, value.get<double>());
  return cell;
}

struct SummaryRow {
  std::string layer, pass;
  std::vector<std::string> cells;
};

SummaryRow summary_row(const std::string& layer, const std::string& pass, const nlohmann::json& entry) {
  const nlohmann::json& e = entry["energy"];
  SummaryRow row{layer, pass, {number_cell(e["mls"], "%.6g")}};
  for (const char* baseline : kBaselines)
    row.cells.push_back(number_cell(e[std::string(baseline) + "_over_mls"], "%.3f"));
  if (e["memory"].is_object()) {
    row.cells.push_back(number_cell(e["memory"]["mls"], "%.6g"));
    row.cells.push_back(number_cell(e["total"]["mls"], "%.6g"));
    for (const char* baseline : kBaselines)
      row.cells.push_back(number_cell(e[std::string("total_") + baseline + "_over_mls"], "%.3f"));
  }
  return row;
}

std::string format_row(const SummaryRow& row, size_t layer_width) {
  char head[512];
  std::snprintf(head, sizeof head, "%-*s  %-10s", int(layer_width), row.layer.c_str(), row.pass.c_str());
  std::string line = head;
  for (const std::string& cell : row.cells) {
    char padded[48];
    std::snprintf(padded, sizeof padded, "  %12s", cell.c_str());
    line += padded;
  }
  return line + "\n";
}

SummaryRow header_row(bool memory) {
  SummaryRow header{"layer", "pass", {"MLS"}};
  for (const char* baseline : kBaselines) header.cells.push_back(std::string(baseline) + "/MLS");
  if (memory) {
    header.cells.insert(header.cells.end(), {"MLS memory", "MLS total"});
    for (const char* baseline : kBaselines) header.cells.push_back(std::string("tot ") + baseline + "/MLS");
  }
  return header;
}

// --- the ERT's design ------------------------------------------------------

struct Design {
  PassWidths widths;
  std::string note;
};

std::string widths_note(const PassWidths& w) {
  return "X " + w.x_elem.name() + "/" + w.x_scale.name() + ", Y " + w.y_elem.name() + "/" + w.y_scale.name() +
         ", " + std::to_string(w.acc_bits) + "-bit local accumulator";
}

Design design_from_report(const nlohmann::json& report, const std::string& path, const std::string& pass) {
  if (!report.is_object() || !report.contains("layers") || !report["layers"].is_array())
    throw Error(path + ": missing \"layers\"");
  for (const nlohmann::json& entry : report["layers"]) {
    if (!entry.is_object() || string_field(entry, "pass", "") != pass) continue;
    const std::string where = path + ": " + string_field(entry, "name", "?") + " " + pass;
    const std::optional<PassWidths> w = entry_widths(entry, report, where);
    if (!w) throw Error(where + ": no operand formats (formats or config) to make the design from");
    return {*w, "the " + pass + " pass of " + path + " (" + widths_note(*w) + ")"};
  }
  throw Error(path + ": no layer entry of pass " + pass + " (see --pass)");
}

Design design_from_flags(const EnergyArgs& a) {
  RunConfig cfg;  // the flags set as `run` sets them, range checks and errors included
  params::set(cfg, param("elem"), a.elem);
  params::set(cfg, param("scale"), a.scale);
  params::set(cfg, param("acc_bits"), a.acc_bits);
  PassWidths w;
  w.x_elem = w.y_elem = cfg.mls.quant.weight.elem;
  w.x_scale = w.y_scale = cfg.mls.quant.weight.scale;
  w.acc_bits = cfg.mls.array.acc_bits;
  return {w, widths_note(w)};
}

int run_energy(const std::vector<std::string>& args) {
  const EnergyArgs a = parse_args(args);
  if (a.help) return 0;
  std::vector<std::string> inputs;
  if (!a.report.empty()) inputs.push_back(a.report);
  if (!is_builtin_energy_table(a.tech)) inputs.push_back(a.tech);
  if (!a.out.empty()) check_output_file("--out", a.out, inputs);
  if (!a.ert.empty()) check_output_file("--export-ert", a.ert, inputs);
  if (!a.out.empty() && a.out == a.ert) throw Error("--out and --export-ert name the same file " + a.out);
  const EnergyTable table = load_energy_table(a.tech);
  const nlohmann::json report = a.report.empty() ? nlohmann::json() : read_json_file(a.report);
  std::string ert_text;
  if (!a.ert.empty()) {
    const Design design = a.report.empty() ? design_from_flags(a) : design_from_report(report, a.report, a.pass);
    ert_text = export_ert(table, design.widths, design.note);
  }
  nlohmann::json priced;
  if (!a.report.empty()) priced = add_energy_to_report(report, table, a.report, EnergyOptions{a.gating});
  OutputSet outputs;
  if (!a.out.empty()) outputs.stage(a.out, json_text(priced));
  if (!a.ert.empty()) outputs.stage(a.ert, ert_text);
  outputs.commit();
  if (!a.report.empty()) std::cout << format_energy_summary(priced);
  if (!a.ert.empty()) std::cout << "wrote " << a.ert << "\n";
  return 0;
}

}  // namespace

std::string format_energy_summary(const nlohmann::json& report) {
  const nlohmann::json& total_energy = report["total"]["energy"];
  const bool memory = total_energy["memory"].is_object();
  std::vector<SummaryRow> rows;
  for (const nlohmann::json& entry : report["layers"])
    rows.push_back(summary_row(string_field(entry, "name") + (entry.value("unquantized", false) ? " (fp32)" : ""),
                               string_field(entry, "pass"), entry));
  rows.push_back(summary_row("total", "", report["total"]));
  const SummaryRow header = header_row(memory);
  size_t layer_width = header.layer.size();
  for (const SummaryRow& row : rows) layer_width = std::max(layer_width, row.layer.size());

  const bool gating = total_energy.value("gating", false);
  std::string text = "energy in " + string_field(total_energy, "unit") + " (" + string_field(total_energy, "tech") +
                     ")" + (gating ? ", zero-operand products gated" : "") +
                     (memory ? "; ratios of arithmetic, then of totals (arithmetic + vector + memory)"
                             : "; arithmetic only (the table prices no memory)") +
                     "\n";
  text += format_row(header, layer_width);
  for (const SummaryRow& row : rows) text += format_row(row, layer_width);
  return text;
}

// Errors propagate as mls::Error, so main() reports them like every command's.
int cmd_energy(const std::vector<std::string>& args) {
  try {
    return run_energy(args);
  } catch (const po::error& e) {
    throw Error(std::string(e.what()) + " (see mlssim energy --help)");
  }
}

}  // namespace mls
