#include "sim/report.h"

#include <map>

#include "ref/error.h"

namespace mls {

using nlohmann::json;

json config_json(const MlsConfig& c) {
  return {{"rows", c.array.rows},
          {"cols", c.array.cols},
          {"acc_bits", c.array.acc_bits},
          {"acc_overflow", to_string(c.array.acc_overflow)},
          {"chunk", c.array.chunk},
          {"tree_stages", c.array.effective_tree_stages()},
          {"pipeline_depth", c.array.pipeline_depth()},
          {"elem", c.quant.elem.name()},
          {"scale", c.quant.scale.name()},
          {"group", to_string(c.quant.group)},
          {"rounding", to_string(c.quant.rounding)},
          {"seed", c.quant.seed},
          {"clip", c.quant.clip},
          {"inject_fault", to_string(c.array.fault)}};
}

json events_json(const Stats& s, const ArrayConfig& a) {
  json e = json::object();
  s.for_each([&](const char* key, uint64_t v) { e[key] = v; });
  e["utilization"] = s.utilization(a.rows, a.cols);
  return e;
}

namespace {

std::map<std::string, const json*> entries_by_key(const json& report) {
  std::map<std::string, const json*> out;
  if (report.contains("layers") && report["layers"].is_array())
    for (const json& l : report["layers"]) out[l.value("name", "?") + " " + l.value("pass", "?")] = &l;
  return out;
}

}  // namespace

std::vector<std::string> compare_reports(const json& expected, const json& actual) {
  std::vector<std::string> diffs;
  const auto want = entries_by_key(expected), got = entries_by_key(actual);
  for (const auto& [key, w] : want) {
    const auto it = got.find(key);
    if (it == got.end()) {
      diffs.push_back(key + ": missing from this run");
      continue;
    }
    const json& we = (*w)["events"];
    const json& ge = (*it->second)["events"];
    for (const auto& item : we.items()) {
      if (item.key() == "utilization") continue;  // derived from cycles and mul
      if (!ge.contains(item.key()) || ge[item.key()] != item.value())
        diffs.push_back(key + ": " + item.key() + " " + item.value().dump() + " -> " +
                        (ge.contains(item.key()) ? ge[item.key()].dump() : "missing"));
    }
  }
  for (const auto& [key, g] : got)
    if (!want.count(key)) diffs.push_back(key + ": not in the stored report");
  return diffs;
}

}  // namespace mls
