#include "sim/run/progress.h"

#include <algorithm>
#include <cstdio>

#include "sim/exec/process.h"

namespace mls {

PassLog::PassLog(bool enabled, size_t passes, int64_t est_total)
    : enabled_(enabled), passes_(passes), est_total_(est_total), start_(std::chrono::steady_clock::now()) {}

void PassLog::finished(const PlannedPass& pp, int64_t macs, double seconds, bool resumed, const std::string& tag) {
  ++done_;
  est_done_ += pp.est_cost();
  if (!resumed) est_computed_ += pp.est_cost();
  if (!enabled_) return;
  const int64_t left = std::max<int64_t>(0, est_total_ - est_done_);
  std::string eta = "-";
  if (done_ == passes_ || left == 0)
    eta = "0:00";
  else if (est_computed_ > 0)
    eta = exec::duration_str(seconds_since(start_) * double(left) / double(est_computed_));
  std::fprintf(stderr, "%s: %zu/%zu %s %s: %lld MACs in %.3g s%s, ETA %s\n", tag.c_str(), done_, passes_,
               pp.layer.c_str(), to_string(pp.pass).c_str(), (long long)macs, seconds, resumed ? " (resumed)" : "",
               eta.c_str());
  std::fflush(stderr);
}

}  // namespace mls
