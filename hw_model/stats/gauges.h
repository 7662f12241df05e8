#pragma once
// Gauges: statistics of a layer-pass that are a level rather than a count, so
// passes and layers combine by the largest, not the sum. The third registry of
// hw_model/stats beside the counters (stats.h) and the traffic (traffic.h): a
// member, then its row with its report key, unit and description. The report
// writes each into its layer entries and total by key (gauges_json) and reads
// them back for the total (gauges_of).
#include <cstdint>
#include <iterator>

#include <nlohmann/json_fwd.hpp>

namespace mls {

struct Gauges {
  uint64_t acc_bits_needed = 1;

  // The largest of each gauge.
  Gauges& merge(const Gauges& o);
};

struct GaugeInfo {
  const char* key;          // its key in a report's layer entry and total
  uint64_t Gauges::*gauge;  // the member the array sets
  const char* unit;
  const char* description;
};

inline constexpr GaugeInfo kGaugeTable[] = {
    {"acc_bits_needed", &Gauges::acc_bits_needed, "bits",
     "the narrowest local accumulator (--acc-bits) with no acc_overflow: the widest chunk sum, two's complement"},
};
static_assert(sizeof(Gauges) == std::size(kGaugeTable) * sizeof(uint64_t), "every Gauges member needs a row");

inline Gauges& Gauges::merge(const Gauges& o) {
  for (const GaugeInfo& g : kGaugeTable)
    if (o.*g.gauge > this->*g.gauge) this->*g.gauge = o.*g.gauge;
  return *this;
}

// Sets each gauge in `entry` (a JSON object) under its key.
void add_gauges_json(nlohmann::json& entry, const Gauges& g);
// The gauges an entry holds (add_gauges_json's keys); nlohmann's error when one is missing.
Gauges gauges_of(const nlohmann::json& entry);

}  // namespace mls
