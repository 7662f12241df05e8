#pragma once
// The C column output accumulators: fp32 registers that add one tree result per
// cycle (starting from +0.0) until the last chunk tile of an output, then hand
// the finished sum to the final-scale unit.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
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

 private:
  void on_clock();

  const int cols_;
  Stats* stats_;
  std::vector<float> acc_;  // [C]
};

}  // namespace mls::hw
