// The counters and gauges as JSON, from the registries in stats.h and gauges.h: the one place that turns
// counters into report objects.
#include "hw_model/stats/stats.h"
#include "hw_model/stats/gauges.h"

#include <nlohmann/json.hpp>

namespace mls {

using nlohmann::json;

json counters_json(const Stats& s) {
  json out = json::object();
  for (const StatInfo& info : kStatTable) out[info.key] = s.*info.counter;
  return out;
}

json stats_tree_json(const Stats& s) {
  json out = json::object();
  for (const StatInfo& info : kStatTable) out[info.block][info.key] = s.*info.counter;
  return out;
}

json stats_info_json() {
  json out = json::object();
  for (const StatInfo& info : kStatTable)
    out[info.block][info.key] = {{"unit", info.unit}, {"description", info.description}};
  return out;
}

void add_gauges_json(json& entry, const Gauges& g) {
  for (const GaugeInfo& info : kGaugeTable) entry[info.key] = g.*info.gauge;
}

Gauges gauges_of(const json& entry) {
  Gauges g;
  for (const GaugeInfo& info : kGaugeTable) g.*info.gauge = entry.at(info.key).get<uint64_t>();
  return g;
}

}  // namespace mls
