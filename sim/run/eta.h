#pragma once
// The ETA of a run from measured rates (docs/scale.md#progress).
//
// Each layer-pass carries an estimate of its work from its shapes alone
// (PlannedPass::est_cost). How many seconds a unit of that work takes differs
// by layer kind and pass (a backward-data pass quantizes and lowers more than
// its cycles say; a linear layer's rows are cheaper than a convolution's), and
// the machine's load changes as the run goes. So the model keeps, for each
// (kind, pass), the seconds and estimated work of the layer-passes computed so
// far, and prices each remaining layer-pass at its group's rate (seconds /
// work; a group not seen yet: the rate of everything computed so far). It is
// refitted after every finished layer-pass. A resumed layer-pass took no work
// and gives no rate: only the work still to do counts.
//
// Lanes run side by side (run -j: one per worker, each running its shard's
// layer-passes in run order): the run ends when its slowest lane does, and a
// lane's pass in progress has already run for (now - the lane's last finish).
// No clock is read here: the caller passes `now`, so a test replays recorded
// timings exactly.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mls {

class EtaModel {
 public:
  struct Item {
    std::string key;    // "layer pass", unique in the run
    std::string group;  // what shares a rate: "<kind> <pass>"
    double cost = 0;    // estimated work (PlannedPass::est_cost)
    int lane = 0;       // 0-based worker; items of a lane in the order it runs them
  };

  explicit EtaModel(std::vector<Item> items);

  // `key` finished at `now` (seconds since the run started) after `seconds`
  // of work; a resumed one took none and gives no rate. Unknown keys are ignored.
  void finished(const std::string& key, double seconds, bool resumed, double now);

  // Seconds until every lane is done; nullopt while no computed layer-pass has
  // given a rate and work remains.
  std::optional<double> seconds_left(double now) const;

 private:
  double rate_of(const std::string& group) const;
  double lane_left(int lane, double now) const;

  std::vector<Item> items_;
  std::vector<bool> done_;
  std::vector<double> lane_since_;  // when the lane's pass in progress started
  std::map<std::string, std::pair<double, double>> fitted_;  // group -> (seconds, cost)
  double seconds_ = 0, cost_ = 0;  // over every computed layer-pass
};

}  // namespace mls
