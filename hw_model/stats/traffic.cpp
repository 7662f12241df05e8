#include "hw_model/stats/traffic.h"

#include <nlohmann/json.hpp>

namespace mls::hw {

nlohmann::json traffic_json(const Traffic& t) {
  nlohmann::json out = nlohmann::json::object(), elements = nlohmann::json::object();
  for (const TrafficInfo& i : kTrafficTable) (i.bytes ? out : elements)[i.key] = t.*i.field;
  out["elements"] = elements;
  return out;
}

}  // namespace mls::hw
