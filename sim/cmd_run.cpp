// mlssim run: simulate a trace on the SystemC MAC array.
#include <iostream>
#include <optional>

#include "ref/file_io.h"
#include "ref/error.h"
#include "sim/cli_options.h"
#include "sim/commands.h"
#include "sim/energy.h"
#include "sim/report.h"
#include "sim/run.h"

namespace mls {

namespace {

int compare_with_expected(const std::string& path, const nlohmann::json& report) {
  const std::vector<std::string> diffs = compare_reports(read_json_file(path), report);
  if (diffs.empty()) {
    std::cout << "expect: cycles and all event counts match " << path << "\n";
    return 0;
  }
  std::cerr << "expect: " << diffs.size() << " difference(s) from " << path
            << " (re-bless with --bless if the change is intended):\n";
  for (const std::string& d : diffs) std::cerr << "  " << d << "\n";
  return 5;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  cli::ConfigFlags flags;
  std::string trace_dir, passes = "fwd,bwd-data,bwd-weight", layers, report_path, expect, tech;
  RunOptions opt;
  bool bless = false, no_progress = false;
  cli::po::options_description desc("run options");
  desc.add_options()
      ("trace", cli::po::value(&trace_dir)->value_name("TRACE_DIR")->required(), "trace directory (manifest.json + .npy)")
      ("passes", cli::po::value(&passes)->default_value(passes), "comma list of fwd, bwd-data, bwd-weight")
      ("layers", cli::po::value(&layers), "comma list of layer names (default: all)")
      ("check", cli::po::bool_switch(&opt.check), "compare every output bit for bit with the golden model")
      ("vcd", cli::po::value(&opt.vcd_path), "write a waveform of the array's pipeline (GTKWave)")
      ("outputs", cli::po::value(&opt.outputs_dir), "write each result as DIR/<layer>.<pass>.npy")
      ("report", cli::po::value(&report_path), "write the JSON report")
      ("expect", cli::po::value(&expect), "compare cycles and event counts with a stored report")
      ("bless", cli::po::bool_switch(&bless), "with --expect: overwrite the stored report with this run")
      ("accuracy", cli::po::bool_switch(&opt.accuracy),
       "report the ARE of W, A, E and each pass's error against the fp32 conv of the unquantized tensors")
      ("tech", cli::po::value(&tech),
       "add energy to the report: paper-unit | horowitz-45nm | mac-65nm | TABLE_FILE (docs/energy.md)")
      ("threads", cli::po::value(&opt.threads)->default_value(1), "quantizer threads")
      ("quiet", cli::po::bool_switch(&opt.quiet), "no per-layer table")
      ("no-progress", cli::po::bool_switch(&no_progress), "no progress line");
  cli::add_quant_options(desc, flags);
  cli::add_array_options(desc, flags);
  cli::po::positional_options_description pos;
  pos.add("trace", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim run TRACE_DIR [options] [--check] [--report REPORT.json]", desc, pos, vm))
    return 0;
  opt.cfg = cli::to_config(flags);
  opt.progress = !no_progress;
  opt.passes.clear();
  for (const std::string& p : cli::split_list(passes)) opt.passes.push_back(parse_pass(p));
  if (opt.passes.empty()) throw Error("--passes lists no pass");
  if (bless && expect.empty()) throw Error("--bless needs --expect GOLDEN.json (the report to rewrite)");

  std::optional<EnergyTable> table;
  if (!tech.empty()) table = load_energy_table(tech);  // a bad table fails before the run
  const Trace trace = load_trace(trace_dir, cli::split_list(layers));
  RunResult result = run_trace(trace, opt);
  if (table) {
    result.report = add_energy_to_report(result.report, *table);
    if (!opt.quiet) std::cout << "\n" << format_energy_summary(result.report);
  }
  if (!report_path.empty()) write_file_atomic(report_path, result.report.dump(2) + "\n");
  int status = 0;
  if (!expect.empty()) {
    if (bless) {
      write_file_atomic(expect, result.report.dump(2) + "\n");
      std::cout << "bless: wrote " << expect << "\n";
    } else {
      status = compare_with_expected(expect, result.report);
    }
  }
  if (opt.check && !result.all_bit_exact) {
    std::cerr << "check: the array disagrees with the golden model\n";
    return 4;
  }
  return status;
}

}  // namespace mls
