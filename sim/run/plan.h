#pragma once
// The run's plan: every layer-pass with its expected work, and the split of
// the plan into balanced shards (--shard, -j).
#include <cstdint>
#include <string>
#include <vector>

#include "sim/io/trace.h"
#include "sim/run/run_options.h"

namespace mls {

// One layer-pass of a run, in run order, with the work it is expected to
// take, from its shapes alone (LayerKind::product_size, no lowering): its
// products (padding and zero-insertion taps included) and an estimate of its
// cycles on the array. The simulator's time follows the cycles, whatever the
// array does in them (the kernel's edges and the blocks that run at every
// edge): a least-squares fit over ResNet-18's 63 layer-passes at batch 32
// gives 0.84 us per estimated cycle and no significant cost per product. So a
// low-utilization pass (ResNet-18's conv1 backward-data: 3 of 16 columns)
// costs far more than its products say. A cycle weighs kCycleCost products;
// the products only order passes of about equal cycles. Shards are balanced
// and the ETA is estimated on est_cost.
struct PlannedPass {
  static constexpr int64_t kCycleCost = 2000;
  std::string layer;
  Pass pass = Pass::fwd;
  std::string kind;  // the layer's kind ("conv2d", ...): the ETA fits a rate per kind and pass
  int64_t est_macs = 0, est_cycles = 0;
  int64_t est_cost() const { return est_macs + kCycleCost * est_cycles; }
  std::string key() const;  // "layer pass", as compare_reports names entries
};

// Every layer-pass the run makes, in run order (the --passes of each layer,
// or its --layer-config passes, where the layer has the operands).
std::vector<PlannedPass> plan_run(const Trace& trace, const RunOptions& opt);

// The layer-passes of shard `index` (1-based) of `count`, in run order. The
// plan's layer-passes are dealt largest first (ties: run order) to the shard
// with the fewest expected products so far (ties: the lowest index), so the
// shards are balanced by products and every process computes the same split.
std::vector<PlannedPass> shard_plan(const std::vector<PlannedPass>& plan, int index, int count);

}  // namespace mls
