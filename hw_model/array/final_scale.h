#pragma once
// The C final-scale units: multiply each finished output by the tensor scales
// F = S_t^X * S_t^Y * u_X * u_Y (one fp32 multiply) and write it to the output
// memory. The last write of a layer-pass ends the run.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/channels/clock_gate.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/channels/pipe_reg.h"
#include "hw_model/memory/output_buffer.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

class FinalScale : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeIn<ColumnValues> in;

  SC_HAS_PROCESS(FinalScale);
  // Finished outputs go to `out_buffer` (when given), which writes them back.
  FinalScale(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats, OutputBuffer* out_buffer = nullptr);
  void load(const LayerJob& job);
  bool done() const { return written_ == expected_; }
  sc_core::sc_time last_write_time() const { return last_write_; }

 private:
  void on_clock();
  void end_of_elaboration() override { gate_.arm(in, rst); }

  const int cols_;
  const int out_bytes_;  // one result as it leaves the array (--out-format)
  Stats* stats_;
  OutputBuffer* out_buffer_;
  const LayerJob* job_ = nullptr;
  float factor_ = 0.0f;
  uint64_t written_ = 0, expected_ = 0;
  sc_core::sc_time last_write_;
  ClockGate gate_;  // asleep while no output is finished
};

}  // namespace mls::hw
