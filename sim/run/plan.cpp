#include "sim/run/plan.h"

#include <algorithm>

#include "ref/workload/layer_kind.h"

namespace mls {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The planning estimates of one layer-pass (see PlannedPass), from the
// kind's planned size under the run's --bwd-data (LayerKind::planned_size).
PlannedPass planned_pass(const LayerTensors& t, Pass pass, const ArrayConfig& array) {
  const LayerKind::ProductSize size = t.kind->planned_size(pass, array.bwd_data);
  const int64_t r = size.r;
  const int64_t blocks = t.kind->blocks(pass);
  PlannedPass pp{t.name, pass, t.kind->name(), blocks * size.m * size.p * r, 0};
  pp.est_cycles = blocks * ceil_div(size.m, array.cols) * size.p * ceil_div(r, array.rows);
  return pp;
}

}  // namespace

std::string PlannedPass::key() const { return layer + " " + to_string(pass); }

std::vector<PlannedPass> plan_run(const Trace& trace, const RunOptions& opt) {
  std::vector<PlannedPass> plan;
  for (const LayerTensors& t : trace.layers) {
    const auto own = opt.layer_settings.find(t.name);
    const std::vector<Pass>& passes = own == opt.layer_settings.end() ? opt.passes : own->second.passes;
    for (Pass pass : passes) {
      // QuantLayer::has_pass's rule: no grad_output, forward only.
      const auto present = [&](Operand o) { return o != Operand::grad_output || t.grad_output.has_value(); };
      if (!present(t.kind->x_operand(pass)) || !present(t.kind->y_operand(pass))) continue;
      plan.push_back(planned_pass(t, pass, opt.cfg.array));
    }
  }
  return plan;
}

std::vector<PlannedPass> shard_plan(const std::vector<PlannedPass>& plan, int index, int count) {
  std::vector<size_t> order(plan.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan[a].est_cost() > plan[b].est_cost(); });
  std::vector<int64_t> load(size_t(std::max(count, 1)), 0);
  std::vector<int> owner(plan.size());
  for (size_t i : order) {
    const size_t lightest = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = int(lightest) + 1;
    load[lightest] += plan[i].est_cost();
  }
  std::vector<PlannedPass> mine;
  for (size_t i = 0; i < plan.size(); ++i)
    if (owner[i] == index) mine.push_back(plan[i]);
  return mine;
}

}  // namespace mls
