#pragma once
// The one recipe that runs a lowered layer-pass through the SystemC array:
// build the job (the host's DMA step), simulate it to its last output write,
// return the result tensor and the events. `mlssim run`, the speed benchmark and
// the whole-array regression all call this, so they measure the same thing.
#include "hw_model/array/mac_array.h"
#include "hw_model/stats/stats.h"
#include "ref/workload/lowering.h"
#include "ref/quant/quantizer.h"
#include "ref/core/tensor.h"

namespace mls::hw {

struct SimulatedPass {
  TensorF out;      // natural shape of the pass's result
  Stats stats;      // events of this pass alone
  Traffic traffic;  // data moved between the memory levels
  double seconds;   // wall time of the simulation (job building excluded)
  Gauges gauges;    // levels of this pass: the accumulator width it needed
};

template <class Progress>
SimulatedPass simulate_pass(ArraySim& sim, const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y,
                            Progress&& progress);

inline SimulatedPass simulate_pass(ArraySim& sim, const LoweredPass& lp, const QuantTensor& x,
                                   const QuantTensor& y) {
  return simulate_pass(sim, lp, x, y, [](uint64_t, uint64_t) {});
}

}  // namespace mls::hw

#include <chrono>

#include "hw_model/job/layer_job.h"
#include "hw_model/memory/memory_plan.h"

namespace mls::hw {

template <class Progress>
SimulatedPass simulate_pass(ArraySim& sim, const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y,
                            Progress&& progress) {
  SimulatedPass r{TensorF(lp.out_shape), Stats{}, Traffic{}, 0.0, Gauges{}};
  const Mapping map = Mapping::for_pass(sim.config().array, lp.pass, lp.fill_rows);
  const LayerJob job = make_layer_job(lp, x, y, map, r.out.data.data());
  const MemoryPlan plan = make_memory_plan(lp, job, sim.config().memory);
  const auto t0 = std::chrono::steady_clock::now();
  r.stats = sim.run(job, plan, progress);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.traffic = sim.traffic();
  r.gauges = sim.gauges();
  return r;
}

}  // namespace mls::hw
