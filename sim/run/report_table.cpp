#include "sim/run/report_table.h"

#include <algorithm>
#include <cstdio>

namespace mls {

using nlohmann::json;

void print_header(int width) {
  std::printf("%-*s %-10s %12s %12s %11s %7s %9s  %s\n", width, "layer", "pass", "MACs", "useful MACs", "cycles",
              "util", "overflow", "bit-exact");
}

void print_row(const json& e, int width) {
  if (e.value("unquantized", false)) {
    std::printf("%-*s %-10s unquantized: %lld MACs, not simulated\n", width, e["name"].get<std::string>().c_str(),
                e["pass"].get<std::string>().c_str(), (long long)e["macs"].get<int64_t>());
    return;
  }
  std::printf("%-*s %-10s %12lld %12lld %11llu %6.1f%% %9llu  %s\n", width, e["name"].get<std::string>().c_str(),
              e["pass"].get<std::string>().c_str(), (long long)e["macs"].get<int64_t>(),
              (long long)e["macs_useful"].get<int64_t>(),
              (unsigned long long)e["cycles"].get<uint64_t>(), 100.0 * e["utilization"].get<double>(),
              (unsigned long long)e["events"]["acc_overflow"].get<uint64_t>(),
              e["bit_exact"].is_null() ? "-" : (e["bit_exact"].get<bool>() ? "yes" : "NO"));
}

void print_total(const json& report, bool check) {
  const json& t = report.at("total");
  std::printf("total: %lld MACs (%lld useful: both operands tensor elements) in %llu cycles (utilization %.1f%%), "
              "simulated at %.3g MACs/s%s\n",
              (long long)t.at("macs").get<int64_t>(), (long long)t.at("macs_useful").get<int64_t>(),
              (unsigned long long)t.at("cycles").get<uint64_t>(), 100.0 * t.at("utilization").get<double>(),
              t.at("sim_macs_per_second").get<double>(),
              check ? (t.at("bit_exact").get<bool>() ? ", all bit-exact" : ", MISMATCHES") : "");
}

int layer_column_width(const Trace& trace) {
  // As wide as the longest name, so long names keep the columns aligned.
  size_t width = 22;
  for (const LayerTensors& t : trace.layers) width = std::max(width, t.name.size());
  return int(width);
}

void print_report_table(const json& report, int layer_width, bool check) {
  print_header(layer_width);
  for (const json& e : report.at("layers")) print_row(e, layer_width);
  print_total(report, check);
}

}  // namespace mls
