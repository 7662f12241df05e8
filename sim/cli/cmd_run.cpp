// mlssim run: simulate a trace on the SystemC MAC array.
#include <iostream>
#include <optional>

#include "ref/io/file_io.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/energy/energy.h"
#include "sim/run/report.h"
#include "sim/run/run.h"

namespace mls {

namespace {

int compare_with_expected(const std::string& path, const nlohmann::json& report) {
  std::vector<std::string> diffs;
  try {
    diffs = compare_reports(read_json_file(path, "stored report"), report);
  } catch (const Error& e) {
    throw Error("--expect " + path + ": " + e.what());
  }
  if (diffs.empty()) {
    std::cout << "expect: cycles and all event counts match " << path << "\n";
    return 0;
  }
  std::cerr << "expect: " << diffs.size() << " difference(s) from " << path
            << " (re-bless with --bless if the change is intended):\n";
  for (const std::string& d : diffs) std::cerr << "  " << d << "\n";
  return 5;
}

// Every file the run reads: the manifest, the tensors of the selected layers,
// and a table file or stored report when given.
std::vector<std::string> run_inputs(const Trace& trace, const std::string& tech, const std::string& expect,
                                    bool bless) {
  std::vector<std::string> inputs = {trace.dir + "/manifest.json"};
  for (const LayerTensors& t : trace.layers) {
    inputs.insert(inputs.end(), {t.weight_file, t.input_file});
    if (t.grad_output) inputs.push_back(t.grad_output_file);
  }
  if (!tech.empty() && !is_builtin_energy_table(tech)) inputs.push_back(tech);
  if (!expect.empty() && !bless) inputs.push_back(expect);
  return inputs;
}

// SystemC names the waveform <base>.vcd; the target is that name.
std::string vcd_target(std::string path) {
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".vcd") == 0) path.resize(path.size() - 4);
  return path + ".vcd";
}

void check_outputs(const RunOptions& opt, const Trace& trace, const std::string& report, const std::string& expect,
                   bool bless, const std::vector<std::string>& inputs) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"--report", report}, {"--expect", bless ? expect : ""}, {"--vcd", opt.vcd_path.empty() ? "" : vcd_target(opt.vcd_path)}};
  for (const auto& [flag, path] : files) {
    if (path.empty()) continue;
    check_output_file(flag, path, inputs);
  }
  for (const LayerTensors& t : trace.layers)
    for (Pass pass : opt.passes) {
      if (!opt.outputs_dir.empty())
        check_output_not_input("--outputs", output_path(opt.outputs_dir, t.name, pass), inputs);
      if (opt.operands_dir.empty()) continue;
      for (Operand o : {Operand::weight, Operand::input, Operand::grad_output})
        check_output_not_input("--operands", operand_path(opt.operands_dir, t.name, pass, o), inputs);
    }
}

// `mlssim run`'s flags, as parsed.
struct RunArgs {
  RunOptions opt;
  std::string trace_dir, layers, report_path, expect, tech, layer_config, unquantized;
  RunConfig config;  // the command line's, which --layer-config's keys apply on top of
  bool bless = false;
  bool gating = false;
};

// Returns false when --help was asked for.
bool parse_run_args(const std::vector<std::string>& args, RunArgs& a) {
  cli::ConfigFlags flags;
  std::string passes = "fwd,bwd-data,bwd-weight";
  bool no_progress = false;
  RunOptions& opt = a.opt;
  cli::po::options_description desc("run options");
  desc.add_options()
      ("trace", cli::po::value(&a.trace_dir)->value_name("TRACE_DIR")->required(), "trace directory (manifest.json + .npy)")
      ("passes", cli::po::value(&passes)->default_value(passes), "comma list of fwd, bwd-data, bwd-weight")
      ("layers", cli::po::value(&a.layers), "comma list of layer names (default: all)")
      ("check", cli::po::bool_switch(&opt.check), "compare every output bit for bit with the golden model")
      ("vcd", cli::po::value(&opt.vcd_path), "write a waveform of the array's pipeline (GTKWave)")
      ("outputs", cli::po::value(&opt.outputs_dir), "write each result as DIR/<layer>.<pass>.npy")
      ("operands", cli::po::value(&opt.operands_dir),
       "write the dequantized operands each pass consumed as DIR/<layer>.<pass>.<weight|input|grad_output>.npy")
      ("report", cli::po::value(&a.report_path), "write the JSON report")
      ("layer-config", cli::po::value(&a.layer_config)->value_name("FILE"),
       "per-layer formats, passes and unquantized layers: a YAML or JSON map from layer names or glob patterns "
       "to settings (docs/formats.md#per-layer-settings)")
      ("unquantized", cli::po::value(&a.unquantized)->value_name("LIST"),
       "layers kept in fp32, not simulated, priced as fp32 MACs: comma list of layer names or patterns, first, "
       "last, classifier (the last layer if it is linear), or none (docs/formats.md#unquantized-layers)")
      ("expect", cli::po::value(&a.expect), "compare cycles and event counts with a stored report")
      ("bless", cli::po::bool_switch(&a.bless), "with --expect: overwrite the stored report with this run")
      ("accuracy", cli::po::bool_switch(&opt.accuracy),
       "report the ARE of W, A, E and each pass's error against the fp32 conv of the unquantized tensors")
      ("threads", cli::po::value(&opt.threads)->default_value(1), "quantizer threads, [1, 256]")
      ("quiet", cli::po::bool_switch(&opt.quiet), "no per-layer table")
      ("no-progress", cli::po::bool_switch(&no_progress), "no progress line");
  cli::add_quant_options(desc, flags);
  cli::add_operand_options(desc, flags);
  cli::add_preset_option(desc, flags);
  cli::add_array_options(desc, flags);
  cli::add_energy_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("trace", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim run TRACE_DIR [options] [--check] [--report REPORT.json]", desc, pos, vm))
    return false;
  cli::apply_preset(vm, flags);
  if (!vm.count("unquantized")) a.unquantized = cli::preset_unquantized(flags);
  const RunConfig config = cli::to_run_config(flags);
  a.config = config;
  a.tech = config.tech;
  a.gating = config.gating;
  if (a.gating && a.tech.empty()) throw Error("--gating prices energy: it needs --tech");
  opt.cfg = config.mls;
  opt.progress = !no_progress;
  opt.passes.clear();
  for (const std::string& p : cli::split_list(passes)) opt.passes.push_back(parse_pass(p));
  if (opt.passes.empty()) throw Error("--passes lists no pass");
  if (a.bless && a.expect.empty()) throw Error("--bless needs --expect GOLDEN.json (the report to rewrite)");
  cli::check_threads(opt.threads);
  return true;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  RunArgs a;
  if (!parse_run_args(args, a)) return 0;
  RunOptions& opt = a.opt;
  std::optional<EnergyTable> table;
  if (!a.tech.empty()) table = load_energy_table(a.tech);  // a bad table fails before the run
  if (a.gating && !table->prices_gating())
    throw Error("--gating: energy table " + table->name + " prices no gated actions (docs/energy.md#gating)");
  const Trace trace = load_trace(a.trace_dir, cli::split_list(a.layers));
  std::vector<std::string> names;
  for (const LayerTensors& t : trace.layers) names.push_back(t.name);
  if (!a.layer_config.empty()) opt.layer_settings = load_layer_config(a.layer_config, names, a.config, opt.passes);
  const std::string classifier =
      !trace.layers.empty() && trace.layers.back().kind->name() == "linear" ? trace.layers.back().name : "";
  mark_unquantized(a.unquantized, names, classifier, a.config, opt.passes, opt.layer_settings);
  for (const auto& [name, s] : opt.layer_settings)
    if (s.unquantized && !a.expect.empty())
      throw Error("layer " + name + " is unquantized, which --expect does not compare (run without --expect)");
  std::vector<std::string> inputs = run_inputs(trace, a.tech, a.expect, a.bless);
  if (!a.layer_config.empty()) inputs.push_back(a.layer_config);
  check_outputs(opt, trace, a.report_path, a.expect, a.bless, inputs);

  // Nothing is written until the whole run has succeeded (docs/testing.md).
  OutputSet outputs;
  if (!opt.outputs_dir.empty()) outputs.make_dir(opt.outputs_dir);
  if (!opt.operands_dir.empty() && opt.operands_dir != opt.outputs_dir) outputs.make_dir(opt.operands_dir);
  if (!opt.vcd_path.empty()) opt.vcd_path = outputs.stage_external(vcd_target(opt.vcd_path), ".vcd");
  RunResult result = run_trace(trace, opt, outputs);
  if (table) {
    result.report = add_energy_to_report(result.report, *table, "report", EnergyOptions{a.gating});
    if (!opt.quiet) std::cout << "\n" << format_energy_summary(result.report);
  }
  if (!a.report_path.empty()) outputs.stage(a.report_path, json_text(result.report));
  const int status = !a.expect.empty() && !a.bless ? compare_with_expected(a.expect, result.report) : 0;
  if (a.bless) outputs.stage(a.expect, json_text(result.report));
  outputs.commit();
  if (a.bless) std::cout << "bless: wrote " << a.expect << "\n";
  const std::string warning = acc_overflow_warning(result.report);
  if (!warning.empty()) std::cerr << warning << "\n";
  if (opt.check && !result.all_bit_exact) {
    std::cerr << "check: the array disagrees with the golden model\n";
    return 4;
  }
  return status;
}

}  // namespace mls
