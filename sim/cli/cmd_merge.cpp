// mlssim merge: the report of a whole run from its shards' partial reports
// (run --shard I/N, docs/scale.md).
#include <iostream>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/io/json_file.h"
#include "sim/run/report.h"
#include "sim/run/run.h"

namespace mls {

int cmd_merge(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  std::string report_path;
  cli::po::options_description desc("merge options");
  desc.add_options()
      ("partials", cli::po::value(&files)->value_name("PARTIAL")->multitoken()->required(),
       "partial reports of run --shard I/N, one per shard")
      ("report", cli::po::value(&report_path)->value_name("REPORT.json")->required(), "write the merged JSON report");
  cli::po::positional_options_description pos;
  pos.add("partials", -1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim merge PARTIAL... --report REPORT.json", desc, pos, vm)) return 0;
  check_output_file("--report", report_path, files);
  std::vector<nlohmann::json> partials;
  for (const std::string& f : files) partials.push_back(read_json_file(f, "partial report"));
  nlohmann::json report;
  try {
    report = merge_partials(partials, files);
  } catch (const nlohmann::json::exception& e) {
    throw Error("a partial report is not a run report (" + one_line(e.what()) + ")");
  }
  write_file_atomic(report_path, json_text(report));
  const nlohmann::json& total = report["total"];
  std::cout << "merge: " << files.size() << " partial report(s), " << report["layers"].size() << " layer-passes, "
            << total["macs"].get<int64_t>() << " MACs in " << total["cycles"].get<uint64_t>() << " cycles -> "
            << report_path << "\n";
  // The whole run's overflow summary, as a one-process run prints it: the
  // total counts and the widest acc_bits_needed of any shard's layer-passes.
  const std::string warning = acc_overflow_warning(report);
  if (!warning.empty()) std::cerr << warning << "\n";
  if (total.contains("bit_exact") && !total["bit_exact"].get<bool>()) {
    std::cerr << "check: the array disagrees with the golden model\n";
    return 4;
  }
  return 0;
}

}  // namespace mls
