// mlssim describe --json: the registries outside tools read instead of copying
// them: the parameter table (sim/params), the presets (--preset), the energy
// model's array blocks (the keys of a report's "by_block") and the report's
// statistics with their units and descriptions (hw_model/stats: the event
// counters, the memory traffic, the gauges; docs/reference.md's tables of
// them are generated from this by tools/doc_tables.py).
#include <iostream>

#include "hw_model/stats/gauges.h"
#include "hw_model/stats/stats.h"
#include "hw_model/stats/traffic.h"
#include "hw_model/stats/vector_work.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/energy/energy.h"
#include "sim/params/params.h"

namespace mls {
namespace {

// Every parameter in table (sweep) order, with its flag, default and where it appears.
nlohmann::json params_json() {
  nlohmann::json list = nlohmann::json::array();
  for (const params::Param& p : params::table()) {
    // A training parameter is a sweep file's only: no command takes it as a flag.
    const nlohmann::json flag =
        p.group == params::Group::train ? nlohmann::json(nullptr) : nlohmann::json(params::flag(p));
    nlohmann::json entry = {{"name", p.name},
                            {"flag", flag},
                            {"group", params::group_name(p.group)},
                            {"kind", params::kind_name(p.kind)},
                            {"help", p.help},
                            {"default", params::default_value(p)},
                            {"sweep", (p.use & params::kSweep) != 0},
                            {"report", (p.use & params::kReport) != 0}};
    entry["range"] = p.range ? nlohmann::json::array({p.range->lo, p.range->hi}) : nlohmann::json(nullptr);
    list.push_back(entry);
  }
  return list;
}

// The presets' values as a sweep file and a report's params spell them
// (acc_bits 16, clip true), parsed by the parameter table.
nlohmann::json presets_json() {
  nlohmann::json list = nlohmann::json::array();
  for (const cli::Preset& preset : cli::presets()) {
    RunConfig cfg;
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [name, text] : preset.values) {
      const params::Param* p = params::find(name);
      if (!p) throw Error(std::string("preset ") + preset.name + " sets unknown parameter " + name);
      params::set(cfg, *p, text);
      values[name] = p->get(cfg);
    }
    list.push_back({{"name", preset.name}, {"help", preset.help}, {"values", values},
                    {"unquantized", preset.unquantized}});
  }
  return list;
}

nlohmann::json blocks_json() {
  nlohmann::json list = nlohmann::json::array();
  for (const BlockField& f : block_fields()) list.push_back(f.name);
  return list;
}

// Each registry row as {key, unit, description}; events add the block that
// counts them, traffic keys are as a report nests them ("elements.x_dram_read").
nlohmann::json stats_json() {
  nlohmann::json events = nlohmann::json::array(), traffic = nlohmann::json::array();
  nlohmann::json gauges = nlohmann::json::array();
  for (const StatInfo& s : kStatTable)
    events.push_back({{"key", s.key}, {"block", s.block}, {"unit", s.unit}, {"description", s.description}});
  // The vector unit's counters sit beside the array's, under the report's "vector" block.
  for (const hw::VectorInfo& v : hw::kVectorTable)
    events.push_back({{"key", v.key}, {"block", "vector"}, {"unit", v.unit}, {"description", v.description}});
  for (const hw::TrafficInfo& t : hw::kTrafficTable)
    traffic.push_back({{"key", std::string(t.bytes ? "" : "elements.") + t.key},
                       {"unit", t.unit},
                       {"description", t.description}});
  for (const GaugeInfo& g : kGaugeTable)
    gauges.push_back({{"key", g.key}, {"unit", g.unit}, {"description", g.description}});
  return {{"events", events}, {"traffic", traffic}, {"gauges", gauges}};
}

}  // namespace

int cmd_describe(const std::vector<std::string>& args) {
  bool json = false;
  cli::po::options_description desc("describe options");
  desc.add_options()("json", cli::po::bool_switch(&json),
                     "print the parameters, presets, energy blocks and statistics as one JSON object (the only form)");
  cli::po::positional_options_description pos;
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim describe --json", desc, pos, vm)) return 0;
  if (!json) throw Error("give --json (the registries are printed as JSON only)");
  const nlohmann::json out = {{"format", "mlssim-describe/1"},
                              {"params", params_json()},
                              {"presets", presets_json()},
                              {"blocks", blocks_json()},
                              {"stats", stats_json()}};
  std::cout << out.dump(1) << "\n";
  return 0;
}

}  // namespace mls
