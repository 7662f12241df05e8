#pragma once
// What a run prints while it works: the terminal's progress line and one log
// line per finished layer-pass.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/run/eta.h"
#include "sim/run/plan.h"

namespace mls {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Prints "layer 3/19 name pass 45%" to stderr at most twice a second.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled && ::isatty(2)) {}
  void set_layer(const std::string& label) { label_ = label; }
  void operator()(uint64_t done, uint64_t total) {
    if (!enabled_ || seconds_since(last_) < 0.5) return;
    last_ = Clock::now();
    std::fprintf(stderr, "\r%-60s %5.1f%%", label_.c_str(), total ? 100.0 * double(done) / double(total) : 100.0);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r%-68s\r", "");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::string label_;
  Clock::time_point last_ = Clock::now();
};

// One stderr line per finished layer-pass, whether stderr is a terminal or a
// batch job's log file, so a long run shows where it is:
//   run: 3/57 layer1.0.conv1 bwd-data: 1179648 MACs in 0.42 s, ETA 0:12
// The ETA comes from the rates measured so far per layer kind and pass
// (EtaModel, sim/run/eta.h); resumed layer-passes cost no time. `run -j` keeps
// one for the whole run, one lane per worker, and tags each line with the
// worker that finished the layer-pass ("run[2/4]").
class PassLog {
 public:
  PassLog(bool enabled, std::vector<EtaModel::Item> items);
  void finished(const PlannedPass& pp, int64_t macs, double seconds, bool resumed, const std::string& tag = "run");

 private:
  bool enabled_;
  size_t passes_, done_ = 0;
  EtaModel eta_;
  std::chrono::steady_clock::time_point start_;
};

// The ETA's items of a run's layer-passes: all in one lane, or (`lanes` > 1,
// run -j) each in the lane of the shard that runs it (shard_plan).
std::vector<EtaModel::Item> eta_items(const std::vector<PlannedPass>& plan, int lanes = 1);

}  // namespace mls
