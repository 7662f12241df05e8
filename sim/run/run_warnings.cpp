#include "sim/run/run_warnings.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ref/core/config.h"

namespace mls {

using nlohmann::json;

std::string acc_overflow_warning(const json& report) {
  const json& total = report.at("total");
  const json& ev = total.at("events");
  const uint64_t overflow = ev.at("acc_overflow").get<uint64_t>(), adds = ev.at("acc_add").get<uint64_t>();
  if (overflow == 0) return "";
  const json& cfg = report.at("config");
  const int needed = total.at("acc_bits_needed").get<int>();
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.2e", adds ? double(overflow) / double(adds) : 0.0);
  return "warning: " + std::to_string(overflow) + " of " + std::to_string(adds) +
         " local-accumulator additions left the " + std::to_string(cfg.at("acc_bits").get<int>()) +
         "-bit range (rate " + rate + ", " + cfg.at("acc_overflow").get<std::string>() + "); " +
         (needed <= ArrayConfig::kAccBits.hi
              ? "--acc-bits " + std::to_string(needed) + " would have none"
              : "no accumulator up to " + std::to_string(ArrayConfig::kAccBits.hi) + " bits would have none");
}

std::string one_scale_per_product_warning(const json& report) {
  std::vector<std::string> layers;
  size_t passes = 0;
  for (const json& e : report.at("layers")) {
    if (e.value("unquantized", false) || !e.contains("k") || e.at("k").get<int64_t>() != 1) continue;
    ++passes;
    const std::string name = e.at("name").get<std::string>();
    if (std::find(layers.begin(), layers.end(), name) == layers.end()) layers.push_back(name);
  }
  if (layers.empty()) return "";
  constexpr size_t kNamed = 5;
  std::string names;
  for (size_t i = 0; i < layers.size() && i < kNamed; ++i) names += (i ? ", " : "") + layers[i];
  if (layers.size() > kNamed) names += " and " + std::to_string(layers.size() - kNamed) + " more";
  return "warning: one group scale per product (k = 1) in " + std::to_string(passes) + " layer-pass" +
         (passes == 1 ? "" : "es") + " of " + names + ": each group holds one element of the reduction; a block "
         "grouping (--group kB, as the default k" + std::to_string(Grouping::kDefaultBlock) +
         " of linear and matmul layers) shares each scale over B products";
}

}  // namespace mls
