#include "sim/run/progress.h"

#include <cstdio>
#include <map>

#include "sim/exec/process.h"

namespace mls {

PassLog::PassLog(bool enabled, std::vector<EtaModel::Item> items)
    : enabled_(enabled), passes_(items.size()), eta_(std::move(items)), start_(std::chrono::steady_clock::now()) {}

void PassLog::finished(const PlannedPass& pp, int64_t macs, double seconds, bool resumed, const std::string& tag) {
  ++done_;
  eta_.finished(pp.key(), seconds, resumed, seconds_since(start_));
  if (!enabled_) return;
  const std::optional<double> left = eta_.seconds_left(seconds_since(start_));
  const std::string eta = done_ == passes_ ? "0:00" : left ? exec::duration_str(*left) : "-";
  std::fprintf(stderr, "%s: %zu/%zu %s %s: %lld MACs in %.3g s%s, ETA %s\n", tag.c_str(), done_, passes_,
               pp.layer.c_str(), to_string(pp.pass).c_str(), (long long)macs, seconds, resumed ? " (resumed)" : "",
               eta.c_str());
  std::fflush(stderr);
}

std::vector<EtaModel::Item> eta_items(const std::vector<PlannedPass>& plan, int lanes) {
  std::map<std::string, int> lane_of;
  if (lanes > 1)
    for (int shard = 1; shard <= lanes; ++shard)
      for (const PlannedPass& pp : shard_plan(plan, shard, lanes)) lane_of[pp.key()] = shard - 1;
  std::vector<EtaModel::Item> items;
  for (const PlannedPass& pp : plan)
    items.push_back({pp.key(), pp.kind + " " + to_string(pp.pass), double(pp.est_cost()), lane_of[pp.key()]});
  return items;
}

}  // namespace mls
