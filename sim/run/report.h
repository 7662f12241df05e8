#pragma once
// The run report (docs/reference.md#commands): config, one entry per layer and pass, and totals.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw_model/stats/stats.h"
#include "ref/core/config.h"
#include "sim/io/json_file.h"

namespace mls {

nlohmann::json config_json(const MlsConfig& cfg);
// All report event keys (docs/reference.md#events): the counters and utilization.
nlohmann::json events_json(const Stats& s, const ArrayConfig& a);

// Differences in cycles and event counts per (layer, pass) between a stored
// report and a new one, one readable line each; empty when they agree.
std::vector<std::string> compare_reports(const nlohmann::json& expected, const nlohmann::json& actual);

}  // namespace mls
