#pragma once
// The R x C MLS MAC array: controller, operand buffers, multipliers, local
// accumulators, group scalers, adder trees, output accumulators and final-scale
// units, connected stage to stage by pipeline registers. Each block is a plain
// C++ class that models all of its instances and does one clock edge's work
// in edge() (hw_model/channels/clocked.h runs one alone under SystemC); the
// array's one clocked process calls every block's edge() and then swaps the
// pipeline registers (DoubleBuffer), so the SystemC kernel is paid once per
// edge, not once per block; without a VCD file, once per run of edges at
// which nothing reads the simulated time (EdgeClock::skip). The memory
// system (memory_system.h) has no process: the same one calls its edge first.
//
//   Controller -> OperandBuffer -> Multiplier -> LocalAccumulator -> GroupScaler
//     -> AdderTree (tree_stages) -> OutputAccumulator -> FinalScale -> memory
#include <memory>
#include <string>
#include <vector>
#include <systemc>

#include "hw_model/array/adder_tree.h"
#include "hw_model/array/controller.h"
#include "hw_model/array/final_scale.h"
#include "hw_model/array/group_scaler.h"
#include "hw_model/array/local_accumulator.h"
#include "hw_model/array/multiplier.h"
#include "hw_model/memory/memory_plan.h"
#include "hw_model/memory/memory_system.h"
#include "hw_model/memory/operand_buffer.h"
#include "hw_model/stats/traffic.h"
#include "hw_model/array/output_accumulator.h"
#include "hw_model/channels/edge_clock.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/gauges.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class MacArray : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;

  SC_HAS_PROCESS(MacArray);
  MacArray(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats, Traffic* traffic);

  // Fill buffers and scale registers; the memory plan drives the buffers'
  // refills (an ideal plan: none).
  void load(const LayerJob& job, const MemoryPlan& plan);
  void start();                    // begin issuing at the next edge
  // The last output is written and, with a memory system, written back.
  bool done() const { return final_scale.done() && memory.out_buffer.drained(); }
  const LayerJob* job() const { return job_; }
  // Writes the array's pipeline ports to a VCD file (call before sc_start).
  void trace(sc_core::sc_trace_file* tf);
  // The blocks' names (each block class's kName), as the stats registry
  // (hw_model/stats/stats.h) groups the counters by them.
  static std::vector<std::string> block_names();
  // The clock is an EdgeClock that nothing else samples: runs of edges that
  // read no time are done in one activation.
  void burst_on(EdgeClock* clock) { burst_clock_ = clock; }

 private:
  const int rows_, cols_;

 public:
  DoubleBuffer<IssueCmd> cmd_reg;
  DoubleBuffer<Operands> operand_reg;
  DoubleBuffer<Products> product_reg;
  DoubleBuffer<ChunkSums> chunk_reg;
  DoubleBuffer<ScaledSums> scaled_reg;
  DoubleBuffer<ColumnValues> tree_reg;
  DoubleBuffer<ColumnValues> out_acc_reg;

  // Memory system (declared first: the array's blocks hold pointers to it).
  MemorySystem memory;

  Controller controller;
  OperandBuffer operand_buffer;
  Multiplier multiplier;
  LocalAccumulator local_accumulator;
  GroupScaler group_scaler;
  AdderTree adder_tree;
  OutputAccumulator output_accumulator;
  FinalScale final_scale;

 private:
  struct Probe;
  void on_clock();                 // the one process: an edge (without a VCD file, a run of edges)
  // Edge `now`: the memory system's, every block's, then the registers swap
  // (inlined into on_clock's run of edges).
  [[gnu::always_inline]] inline void edge(uint64_t now, bool rst);
  // The blocks after the local accumulators and the swap of their registers
  // (chunk_reg on): the second half of edge().
  [[gnu::always_inline]] inline void back_edge(bool rst);
  // Up to `edges` quiet edges from `now` on (Controller::quiet_steps), as
  // many as the burst allows; returns how many were done.
  int quiet_run(uint64_t now, int edges);
  static constexpr int kMaxBurst = 4096;
  EdgeClock* burst_clock_ = nullptr;
  bool memory_ideal_ = true;  // the memory system's edges do nothing (start())
  const LayerJob* job_ = nullptr;
  std::unique_ptr<Probe> probe_;
};

// Drives a MacArray with a clock and reset, one layer-pass at a time. SystemC
// elaborates once per process, so a process holds one ArraySim and runs every
// layer-pass through it.
class ArraySim {
 public:
  explicit ArraySim(const MlsConfig& cfg, const std::string& vcd_path = "");
  ~ArraySim();
  // Runs the job to its last output write; `progress(issued, total)` is called
  // now and then on long runs. Returns the events of this job alone.
  template <class Progress>
  Stats run(const LayerJob& job, const MemoryPlan& plan, Progress&& progress);
  Stats run(const LayerJob& job, const MemoryPlan& plan) {
    return run(job, plan, [](uint64_t, uint64_t) {});
  }
  // The ideal memory (today's array: no plan, no stalls).
  Stats run(const LayerJob& job) { return run(job, MemoryPlan{}); }
  // The traffic of the last run.
  const Traffic& traffic() const { return traffic_; }
  // The local accumulator width the last run needed to have no acc_overflow
  // (LocalAccumulator::width_needed).
  int acc_bits_needed() const { return array_.local_accumulator.width_needed(); }
  // The gauges of the last run (hw_model/stats/gauges.h).
  Gauges gauges() const {
    Gauges g;
    g.acc_bits_needed = uint64_t(acc_bits_needed());
    return g;
  }
  const MlsConfig& config() const { return cfg_; }

 private:
  void begin(const LayerJob& job, const MemoryPlan& plan);
  bool step();  // simulates a slice; false when the job is done
  Stats finish();

  MlsConfig cfg_;
  Stats stats_;
  Traffic traffic_;
  const sc_core::sc_time period_{1, sc_core::SC_NS};
  // The clock: an EdgeClock (rising edges only, the fast one), or with a VCD
  // file an sc_clock, whose falling edges the probe samples at.
  std::unique_ptr<EdgeClock> edge_clk_;
  std::unique_ptr<sc_core::sc_clock> traced_clk_;
  sc_core::sc_signal<bool> rst_;
  MacArray array_;
  sc_core::sc_trace_file* vcd_ = nullptr;
};

template <class Progress>
Stats ArraySim::run(const LayerJob& job, const MemoryPlan& plan, Progress&& progress) {
  begin(job, plan);
  while (step()) progress(array_.controller.issued(), array_.controller.total_issues());
  return finish();
}

}  // namespace mls::hw
