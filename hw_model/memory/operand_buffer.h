#pragma once
// Operand buffers: the X bank (one element per PE per cycle, by column) and the
// Y bank (one element per row per cycle, broadcast along the row). Loaded with a
// layer-pass's encoded elements before it runs; read once per cycle.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/array/layer_job.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class OperandBuffer : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<IssueCmd> in;  // issue commands from the controller
  PipeOut<Operands> out;

  SC_HAS_PROCESS(OperandBuffer);
  OperandBuffer(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats);
  // Throws mls::Error when the job's mapping is for another array size.
  void load(const LayerJob& job);

 private:
  void on_clock();

  const int rows_, cols_;
  Stats* stats_;
  const LayerJob* job_ = nullptr;
};

}  // namespace mls::hw
