#include "hw_model/stats/vector_work.h"

#include <nlohmann/json.hpp>

namespace mls::hw {

nlohmann::json vector_json(const VectorWork& v) {
  nlohmann::json out = nlohmann::json::object();
  for (const VectorInfo& i : kVectorTable) out[i.key] = v.*i.field;
  return out;
}

nlohmann::json vector_info_json() {
  nlohmann::json out = nlohmann::json::object();
  for (const VectorInfo& i : kVectorTable) out[i.key] = {{"unit", i.unit}, {"description", i.description}};
  return out;
}

}  // namespace mls::hw
