#include "sim/run/report.h"

#include <map>

#include "ref/core/error.h"
#include "sim/params/params.h"

namespace mls {

using nlohmann::json;

// The report-bound parameters of the table, then what they imply.
// Each operand's formats: the multiplier and scaler of a pass take its two.
json operand_formats_json(const PerOperand<QuantConfig>& quant) {
  json out = json::object();
  for (Operand o : {Operand::weight, Operand::input, Operand::grad_output})
    out[to_string(o)] = {{"elem", quant[o].elem.name()}, {"scale", quant[o].scale.name()},
                         {"group", to_string(quant[o].group)}};
  return out;
}

json config_json(const MlsConfig& c) {
  RunConfig run;
  run.mls = c;
  json out = json::object();
  for (const params::Param& p : params::table())
    if (p.use & params::kReport) out[p.name] = p.report ? p.report(run) : p.get(run);
  // Not a parameter: the issue-to-write latency the stages give, which the
  // measured events.pipeline_depth must equal (docs/reference.md#the-modelled-array).
  out["pipeline_depth"] = c.array.pipeline_depth();
  out["operands"] = operand_formats_json(c.quant);
  return out;
}

json events_json(const Stats& s, const ArrayConfig& a) {
  json e = counters_json(s);
  e["utilization"] = s.utilization(a.rows, a.cols);
  return e;
}

namespace {

std::string json_text_line(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// Layer entries of a report by "name pass"; a stored report that is not a run
// report is a user error naming the problem, never a JSON exception.
std::map<std::string, const json*> entries_by_key(const json& report, const std::string& which) {
  if (!report.is_object() || !report.contains("layers") || !report["layers"].is_array())
    throw Error(which + " is not a run report (no 'layers' list)");
  std::map<std::string, const json*> out;
  for (const json& l : report["layers"]) {
    if (!l.is_object() || !l.contains("events") || !l["events"].is_object())
      throw Error(which + " is not a run report (a layer entry has no 'events' object)");
    out[string_field(l, "name", "?") + " " + string_field(l, "pass", "?")] = &l;
  }
  return out;
}

}  // namespace

std::vector<std::string> compare_reports(const json& expected, const json& actual) {
  std::vector<std::string> diffs;
  const auto want = entries_by_key(expected, "the stored report"), got = entries_by_key(actual, "this run's report");
  for (const auto& [key, w] : want) {
    const auto it = got.find(key);
    if (it == got.end()) {
      diffs.push_back(key + ": missing from this run");
      continue;
    }
    const json& we = w->at("events");
    const json& ge = it->second->at("events");
    for (const auto& item : we.items()) {
      if (item.key() == "utilization") continue;  // derived from cycles and mul
      if (!ge.contains(item.key()) || ge[item.key()] != item.value())
        diffs.push_back(key + ": " + item.key() + " " + json_text_line(item.value()) + " -> " +
                        (ge.contains(item.key()) ? json_text_line(ge[item.key()]) : "missing"));
    }
  }
  for (const auto& [key, g] : got)
    if (!want.count(key)) diffs.push_back(key + ": not in the stored report");
  return diffs;
}

}  // namespace mls
