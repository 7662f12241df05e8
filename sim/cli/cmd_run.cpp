// mlssim run: simulate a trace on the SystemC MAC array.
#include <fnmatch.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "ref/io/file_io.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "ref/core/rng.h"
#include "sim/energy/energy.h"
#include "sim/exec/process.h"
#include "sim/run/report.h"
#include "sim/run/run.h"
#include "sim/run/run_workers.h"

namespace mls {

namespace {

// --expect's stored report, read and checked before the run, so a bad one is
// refused before any work (and any progress line).
nlohmann::json read_expected(const std::string& path) {
  try {
    nlohmann::json expected = read_json_file(path, "stored report");
    (void)compare_reports(expected, expected);  // throws when it is not a run report
    return expected;
  } catch (const Error& e) {
    throw Error("--expect " + path + ": " + e.what());
  }
}

int compare_with_expected(const std::string& path, const nlohmann::json& expected, const nlohmann::json& report) {
  const std::vector<std::string> diffs = compare_reports(expected, report);
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
  // Each file of --outputs and --operands, before any work: an input, a
  // directory or a socket on one of its names fails the run now, not at commit.
  const auto check_in_dir = [&](const char* flag, const std::string& path) {
    check_output_target(flag, path);
    check_output_not_input(flag, path, inputs);
  };
  for (const LayerTensors& t : trace.layers)
    for (Pass pass : opt.passes) {
      if (!opt.outputs_dir.empty()) check_in_dir("--outputs", output_path(opt.outputs_dir, t.name, pass));
      if (opt.operands_dir.empty()) continue;
      for (Operand o : {Operand::weight, Operand::input, Operand::grad_output})
        check_in_dir("--operands", operand_path(opt.operands_dir, t.name, pass, o));
    }
}

// `mlssim run`'s flags, as parsed.
struct RunArgs {
  RunOptions opt;
  std::string trace_dir, layers, report_path, expect, tech, layer_config, unquantized;
  RunConfig config;  // the command line's, which --layer-config's keys apply on top of
  bool bless = false;
  bool gating = false;
  bool group_given = false;  // --group, --group-w/-a/-e or a preset's group: no default groupings
  int jobs = 1;               // -j N: worker processes
  std::string shard = "1/1";  // --shard I/N as typed
  std::string trace_checked;  // --trace-checked FILE
  // -j: the command line a worker gets, less the flags the parent keeps (-j,
  // --report, --expect, --bless, --tech, --gating, --quiet, --shard).
  std::vector<std::string> worker_args;
};

// --shard I/N: 1 <= I <= N.
std::pair<int, int> parse_shard(const std::string& text) {
  int index = 0, count = 0;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> index >> slash >> count) || slash != '/' || (in >> extra) || count < 1 || index < 1 || index > count)
    throw Error("--shard must be I/N with 1 <= I <= N (e.g. 2/8), got '" + text + "'");
  return {index, count};
}

// -j, --shard and --resume split or skip layer-passes; the flags whose files a
// single process writes for the whole run are refused with them, and a shard's
// partial report is priced and compared once merged.
void check_split_flags(const RunArgs& a) {
  const RunOptions& opt = a.opt;
  const bool split = a.jobs > 1 || opt.shard_count > 1 || !opt.resume_dir.empty();
  const char* how = a.jobs > 1 ? "-j" : opt.shard_count > 1 ? "--shard" : "--resume";
  if (a.jobs > 1 && opt.shard_count > 1) throw Error("-j runs every shard itself: drop --shard, or -j");
  if (!opt.claims_dir.empty() && opt.shard_count == 1)
    throw Error("--claims shares out the layer-passes of --shard I/N: give --shard too");
  if (!opt.claims_dir.empty() && !std::filesystem::is_directory(opt.claims_dir))
    throw Error("--claims " + opt.claims_dir + ": no such directory (the --shard processes share one)");
  const std::vector<std::pair<const char*, bool>> whole = {
      {"--outputs", !opt.outputs_dir.empty()}, {"--operands", !opt.operands_dir.empty()}, {"--vcd", !opt.vcd_path.empty()}};
  for (const auto& [flag, given] : whole)
    if (split && given)
      throw Error(std::string(flag) + " is written by a single whole run: run without " + how + " to write it");
  const std::vector<std::pair<const char*, bool>> merged = {
      {"--tech", !a.tech.empty()}, {"--expect", !a.expect.empty()}, {"--bless", a.bless}};
  for (const auto& [flag, given] : merged)
    if (opt.shard_count > 1 && given)
      throw Error(std::string("--shard writes a partial report: give ") + flag +
                  " to the merged one (mlssim energy, or run --expect on the whole run)");
}

// A path flag given as '' would silently write nothing: refused.
void check_paths_given(const cli::po::variables_map& vm) {
  for (const char* flag : {"report", "outputs", "vcd", "operands", "expect", "resume", "claims"})
    if (vm.count(flag) && vm[flag].as<std::string>().empty())
      throw Error(std::string("--") + flag + ": the path is empty; give a file or directory name");
}

// --passes: names or fnmatch patterns (bwd-*); a pass listed or matched
// twice runs once, as a layer listed twice does (--layers c,c).
std::vector<Pass> parse_passes(const std::string& text) {
  std::vector<Pass> passes;
  const auto add = [&passes](Pass p) {
    if (std::find(passes.begin(), passes.end(), p) == passes.end()) passes.push_back(p);
  };
  for (const std::string& p : cli::split_list(text)) {
    if (p.find_first_of("*?[") == std::string::npos) {
      add(parse_pass(p));
      continue;
    }
    bool matched = false;
    for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
      if (fnmatch(p.c_str(), to_string(pass).c_str(), 0) == 0) add(pass), matched = true;
    if (!matched) throw Error("--passes: " + quoted_excerpt(p) + " matches no pass (fwd, bwd-data, bwd-weight)");
  }
  if (passes.empty()) throw Error("--passes lists no pass");
  return passes;
}

// The flags `mlssim run` declares itself (the parameter table's come from cli_options).
void add_run_flags(cli::po::options_description& desc, RunArgs& a, std::string& passes, bool& no_progress) {
  RunOptions& opt = a.opt;
  desc.add_options()
      ("trace", cli::po::value(&a.trace_dir)->value_name("TRACE_DIR")->required(), "trace directory (manifest.json + .npy)")
      ("passes", cli::po::value(&passes)->default_value(passes), "comma list of fwd, bwd-data, bwd-weight or glob patterns (bwd-*)")
      ("layers", cli::po::value(&a.layers), "comma list of layer names or glob patterns (blocks.*.fc1; default: all)")
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
      ("no-progress", cli::po::bool_switch(&no_progress), "no progress lines")
      ("jobs,j", cli::po::value(&a.jobs)->default_value(1)->value_name("N"),
       "run the layer-passes in N worker processes, [1, 256] (docs/scale.md)")
      ("shard", cli::po::value(&a.shard)->value_name("I/N"),
       "run only the I-th of N slices of the layer-passes, balanced by products, and write a partial report for "
       "mlssim merge")
      ("claims", cli::po::value(&opt.claims_dir)->value_name("DIR"),
       "with --shard: run whichever layer-passes of the whole run this process claims first in DIR (shared by "
       "the shards), largest first, instead of the fixed slice; -j's workers do")
      ("resume", cli::po::value(&opt.resume_dir)->value_name("DIR"),
       "keep each finished layer-pass in DIR and skip those already there")
      ("trace-checked", cli::po::value(&a.trace_checked)->value_name("FILE"),
       "the fingerprints of the trace's layers as another mlssim read and checked them (-j's parent gives its "
       "workers one): the tensors are then read only when their layer runs, and must still match");
}

// Returns false when --help was asked for.
bool parse_run_args(const std::vector<std::string>& args, RunArgs& a) {
  cli::ConfigFlags flags;
  std::string passes = "fwd,bwd-data,bwd-weight";
  bool no_progress = false;
  RunOptions& opt = a.opt;
  cli::po::options_description desc("run options");
  add_run_flags(desc, a, passes, no_progress);
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
  std::vector<std::string> overridden = cli::apply_preset(vm, flags);
  a.group_given = cli::grouping_given(vm, flags);
  check_paths_given(vm);
  const std::string preset_list = cli::preset_unquantized(flags);
  if (vm.count("unquantized") && !preset_list.empty() && a.unquantized != preset_list)
    overridden.push_back("--unquantized " + a.unquantized);
  cli::print_preset_overrides(flags, overridden);
  if (!vm.count("unquantized")) a.unquantized = cli::preset_unquantized(flags);
  const std::set<std::string> parent_only = {"jobs",   "report", "expect", "bless",        "tech",
                                             "gating", "quiet",  "shard",  "trace-checked"};
  for (const auto& o : cli::po::command_line_parser(args).options(desc).positional(pos).run().options)
    if (!parent_only.count(o.string_key))
      a.worker_args.insert(a.worker_args.end(), o.original_tokens.begin(), o.original_tokens.end());
  const RunConfig config = cli::to_run_config(flags);
  a.config = config;
  a.tech = config.tech;
  a.gating = config.gating;
  if (a.gating && a.tech.empty()) throw Error("--gating prices energy: it needs --tech");
  opt.cfg = config.mls;
  opt.progress = !no_progress;
  opt.passes = parse_passes(passes);
  if (a.bless && a.expect.empty()) throw Error("--bless needs --expect GOLDEN.json (the report to rewrite)");
  cli::check_threads(opt.threads);
  if (a.jobs < 1 || a.jobs > 256) throw Error("-j must be in [1, 256], got " + std::to_string(a.jobs));
  std::tie(opt.shard_index, opt.shard_count) = parse_shard(a.shard);
  check_split_flags(a);
  return true;
}

// --layer-config and --unquantized (a preset's too) on the trace's layers;
// the last layer is the classifier when its kind says so.
void apply_layer_settings(const Trace& trace, RunArgs& a) {
  RunOptions& opt = a.opt;
  std::vector<std::string> names;
  for (const LayerTensors& t : trace.layers) names.push_back(t.name);
  if (!a.layer_config.empty()) {
    opt.layer_config_hash = fnv1a64(read_input_file(a.layer_config, "--layer-config", kMaxTextFileBytes));
    opt.layer_settings = load_layer_config(a.layer_config, names, a.config, opt.passes);
  }
  const std::string classifier =
      !trace.layers.empty() && trace.layers.back().kind->classifies_when_last() ? trace.layers.back().name : "";
  if (!a.group_given) opt.default_groups = default_groupings(trace.layers);
  mark_unquantized(a.unquantized, names, classifier, a.config, opt.passes, opt.layer_settings);
  for (const auto& [name, s] : opt.layer_settings)
    if (s.unquantized && !a.expect.empty())
      throw Error("layer " + name + " is unquantized, which --expect does not compare (run without --expect)");
}

int run_command(const std::vector<std::string>& args) {
  // Line-buffered even into a pipe or a file, so a batch job's log shows each
  // finished layer-pass as it happens (its progress line is on stderr).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  RunArgs a;
  if (!parse_run_args(args, a)) return 0;
  RunOptions& opt = a.opt;
  const std::optional<EnergyTable> table =  // a bad table fails before the run
      a.tech.empty() ? std::nullopt : std::optional(load_energy_table(a.tech));
  if (a.gating && !table->prices_gating())
    throw Error("--gating: energy table " + table->name + " prices no gated actions (docs/energy.md#gating)");
  const std::optional<CheckedTrace> checked =
      a.trace_checked.empty() ? std::nullopt : std::optional(read_checked_trace(a.trace_checked, a.trace_dir));
  const Trace trace =
      load_trace(a.trace_dir, cli::split_list(a.layers), TensorData::dropped, checked ? &*checked : nullptr);
  apply_layer_settings(trace, a);
  std::vector<std::string> inputs = run_inputs(trace, a.tech, a.expect, a.bless);
  if (!a.layer_config.empty()) inputs.push_back(a.layer_config);
  check_outputs(opt, trace, a.report_path, a.expect, a.bless, inputs);

  const std::optional<nlohmann::json> expected =
      !a.expect.empty() && !a.bless ? std::optional(read_expected(a.expect)) : std::nullopt;

  // Nothing is written until the whole run has succeeded (docs/testing.md).
  OutputSet outputs;
  if (!opt.outputs_dir.empty()) outputs.make_dir(opt.outputs_dir);
  if (!opt.operands_dir.empty() && opt.operands_dir != opt.outputs_dir) outputs.make_dir(opt.operands_dir);
  if (!opt.vcd_path.empty()) opt.vcd_path = outputs.stage_external(vcd_target(opt.vcd_path), ".vcd");
  RunResult result;
  if (a.jobs > 1) {
    result.report = run_in_workers(a.jobs, a.worker_args, trace, plan_run(trace, opt));
    result.all_bit_exact = !opt.check || result.report["total"]["bit_exact"].get<bool>();
    if (!opt.quiet) print_report_table(result.report, layer_column_width(trace), opt.check);
  } else {
    result = run_trace(trace, opt, outputs);
  }
  if (table) {
    result.report = add_energy_to_report(result.report, *table, "report", EnergyOptions{a.gating});
    if (!opt.quiet) std::cout << "\n" << format_energy_summary(result.report);
  }
  if (opt.shard_count > 1) seal_partial(result.report);  // merge checks its layers against it
  if (!a.report_path.empty()) outputs.stage(a.report_path, json_text(result.report));
  const int status = expected ? compare_with_expected(a.expect, *expected, result.report) : 0;
  if (a.bless) outputs.stage(a.expect, json_text(result.report));
  outputs.commit();
  if (a.bless) std::cout << "bless: wrote " << a.expect << "\n";
  for (const std::string& warning : {acc_overflow_warning(result.report), one_scale_per_product_warning(result.report)})
    if (!warning.empty()) std::cerr << warning << "\n";
  if (opt.check && !result.all_bit_exact) {
    std::cerr << "check: the array disagrees with the golden model\n";
    return 4;
  }
  return status;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  try {
    return run_command(args);
  } catch (const exec::Interrupted& e) {
    // Everything the run made is gone by now; end as an uninterrupted process would.
    std::cerr << "mlssim run: " << e.what() << "\n";
    exec::end_like_the_interrupt();
  }
}

}  // namespace mls
