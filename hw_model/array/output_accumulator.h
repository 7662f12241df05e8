#pragma once
// The C column output accumulators: fp32 registers that add one tree result per
// cycle (starting from +0.0) until the last chunk tile of an output, then hand
// the finished sum to the final-scale unit. When the mapping keeps several
// outputs of a column open at once (weight-stationary: every p of the m-tile),
// the accumulators keep one partial sum per (p, column).
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/channels/clock_gate.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class OutputAccumulator : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<ColumnValues> in;
  PipeOut<ColumnValues> out;

  SC_HAS_PROCESS(OutputAccumulator);
  OutputAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats);
  void load(const LayerJob& job);

 private:
  void on_clock();
  void end_of_elaboration() override { gate_.arm(in, rst); }

  const int cols_;
  Stats* stats_;
  bool per_p_ = false;
  std::vector<float> acc_;  // [C], or [P][C] with partial sums per p
  ClockGate gate_;          // asleep between chunk tiles
};

}  // namespace mls::hw
