#pragma once
// The group scalers (one per PE): multiply each chunk sum by S_g^X[m,g] *
// S_g^Y[p,g] with shifts and adds (mantissa product 1, 1.5 or 2.25) and round
// the result once into the tree's fp32 format.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/array/layer_job.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class GroupScaler : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<ChunkSums> in;
  PipeOut<ScaledSums> out;

  SC_HAS_PROCESS(GroupScaler);
  GroupScaler(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats);
  void load(const LayerJob& job);  // the group-scale register files

 private:
  void on_clock();

  const int rows_, cols_;
  const Fault fault_;
  Stats* stats_;
  const LayerJob* job_ = nullptr;
};

}  // namespace mls::hw
