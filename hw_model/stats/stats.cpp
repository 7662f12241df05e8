// The counters as JSON, from the registry in stats.h: the one place that turns
// counters into report objects.
#include "hw_model/stats/stats.h"

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

}  // namespace mls
