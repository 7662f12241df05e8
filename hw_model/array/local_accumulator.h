#pragma once
// The R x C local accumulators: acc_bits-wide integer registers that add one
// product per cycle (saturating or wrapping), and at the end of a chunk tile
// hand their sums to the group scalers and restart from 0 with no bubble.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class LocalAccumulator : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<Products> in;
  PipeOut<ChunkSums> out;

  SC_HAS_PROCESS(LocalAccumulator);
  LocalAccumulator(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats);

 private:
  void on_clock();
  void clear();

  const int rows_, cols_, acc_bits_;
  const Overflow policy_;
  Stats* stats_;
  std::vector<int64_t> acc_;        // [R][C]
  std::vector<uint8_t> row_used_;   // [R] row held a chunk in the current tile
};

}  // namespace mls::hw
