#pragma once
// The R x C MLS MAC array: controller, operand buffers, multipliers, local
// accumulators, group scalers, adder trees, output accumulators and final-scale
// units, connected stage to stage by pipeline registers. Each block module
// models all of its instances, so a clock edge wakes eight processes, not one
// per PE.
//
//   Controller -> OperandBuffer -> Multiplier -> LocalAccumulator -> GroupScaler
//     -> AdderTree (tree_stages) -> OutputAccumulator -> FinalScale -> memory
#include <memory>
#include <string>
#include <systemc>

#include "hw_model/array/adder_tree.h"
#include "hw_model/array/controller.h"
#include "hw_model/array/final_scale.h"
#include "hw_model/array/group_scaler.h"
#include "hw_model/array/local_accumulator.h"
#include "hw_model/array/multiplier.h"
#include "hw_model/memory/operand_buffer.h"
#include "hw_model/array/output_accumulator.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class MacArray : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;

  MacArray(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats);

  void load(const LayerJob& job);  // fill buffers and scale registers
  void start();                    // begin issuing at the next edge
  bool done() const { return final_scale.done(); }
  // Writes the array's pipeline ports to a VCD file (call before sc_start).
  void trace(sc_core::sc_trace_file* tf);

 private:
  const int rows_, cols_;

 public:
  PipeReg<IssueCmd> cmd_reg;
  PipeReg<Operands> operand_reg;
  PipeReg<Products> product_reg;
  PipeReg<ChunkSums> chunk_reg;
  PipeReg<ScaledSums> scaled_reg;
  PipeReg<ColumnValues> tree_reg;
  PipeReg<ColumnValues> out_acc_reg;

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
  Stats run(const LayerJob& job, Progress&& progress);
  Stats run(const LayerJob& job) {
    return run(job, [](uint64_t, uint64_t) {});
  }
  const MlsConfig& config() const { return cfg_; }

 private:
  void begin(const LayerJob& job);
  bool step();  // simulates a slice; false when the job is done
  Stats finish();

  MlsConfig cfg_;
  Stats stats_;
  sc_core::sc_clock clk_;
  sc_core::sc_signal<bool> rst_;
  MacArray array_;
  sc_core::sc_trace_file* vcd_ = nullptr;
};

template <class Progress>
Stats ArraySim::run(const LayerJob& job, Progress&& progress) {
  begin(job);
  while (step()) progress(array_.controller.issued(), array_.controller.total_issues());
  return finish();
}

}  // namespace mls::hw
