// `mlssim energy REPORT.json [--tech NAME|FILE] [--out ENERGY.json]`: prices the
// event counts of a run report and prints (and optionally writes) the energy.
#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "ref/io/file_io.h"
#include "ref/core/error.h"
#include "sim/energy/energy.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

namespace po = boost::program_options;

constexpr const char* kUsage = "usage: mlssim energy REPORT.json [--tech paper-unit|horowitz-45nm|mac-65nm|TABLE_FILE] "
                               "[--out ENERGY.json]";

struct EnergyArgs {
  std::string report;
  std::string tech = "paper-unit";
  std::string out;
  bool help = false;
};

EnergyArgs parse_args(const std::vector<std::string>& args) {
  EnergyArgs parsed;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "tech", po::value(&parsed.tech)->default_value(parsed.tech),
      "energy table: paper-unit, horowitz-45nm, mac-65nm or a JSON/YAML table file")(
      "out", po::value(&parsed.out), "write the report with energy added to this JSON file")(
      "report", po::value(&parsed.report)->value_name("REPORT.json"), "run report (mlssim run --report)");
  po::positional_options_description positional;
  positional.add("report", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  po::notify(vm);
  parsed.help = vm.count("help") != 0;
  if (parsed.help) std::cout << kUsage << "\n\n" << options << "\n";
  else if (parsed.report.empty()) throw Error("missing REPORT.json (see --help)");
  return parsed;
}

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
  SummaryRow row{layer, pass,
                 {number_cell(e["mls"], "%.6g"), number_cell(e["fp32"], "%.6g"), number_cell(e["fp8"], "%.6g"),
                  number_cell(e["fp32_over_mls"], "%.3f"), number_cell(e["fp8_over_mls"], "%.3f")}};
  if (entry.contains("memory_energy")) row.cells.push_back(number_cell(entry["memory_energy"]["total"], "%.6g"));
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

int run_energy(const std::vector<std::string>& args) {
  const EnergyArgs parsed = parse_args(args);
  if (parsed.help) return 0;
  if (!parsed.out.empty()) {
    std::vector<std::string> inputs = {parsed.report};
    if (!is_builtin_energy_table(parsed.tech)) inputs.push_back(parsed.tech);
    check_output_file("--out", parsed.out, inputs);
  }
  const EnergyTable table = load_energy_table(parsed.tech);
  const nlohmann::json report = add_energy_to_report(read_json_file(parsed.report), table, parsed.report);
  if (!parsed.out.empty()) write_file_atomic(parsed.out, json_text(report));
  std::cout << format_energy_summary(report);
  return 0;
}

}  // namespace

std::string format_energy_summary(const nlohmann::json& report) {
  const nlohmann::json& total_energy = report["total"]["energy"];
  const bool memory = report["total"].contains("memory_energy");
  std::vector<SummaryRow> rows;
  for (const nlohmann::json& entry : report["layers"])
    rows.push_back(summary_row(string_field(entry, "name"), string_field(entry, "pass"), entry));
  rows.push_back(summary_row("total", "", report["total"]));
  SummaryRow header{"layer", "pass", {"MLS", "fp32", "fp8", "fp32/MLS", "fp8/MLS"}};
  if (memory) header.cells.push_back("memory");
  size_t layer_width = header.layer.size();
  for (const SummaryRow& row : rows) layer_width = std::max(layer_width, row.layer.size());

  std::string text = "energy in " + string_field(total_energy, "unit") + " (" + string_field(total_energy, "tech") + ")" +
                     (memory ? "; memory = MLS operand/output buffers, not included in MLS" : "") + "\n";
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
