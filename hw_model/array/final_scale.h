#pragma once
// The C final-scale units: multiply each finished output by the tensor scales
// F = S_t^X * S_t^Y * u_X * u_Y (one fp32 multiply) and write it to the output
// memory. The last write of a layer-pass ends the run.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/memory/output_buffer.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class FinalScale {
 public:
  static constexpr const char* kName = "final_scale";  // in the stats registry and the VCD file
  using In = ColumnValues;

  // Finished outputs go to `out_buffer` (when given), which writes them back.
  FinalScale(const ArrayConfig& cfg, Stats* stats, OutputBuffer* out_buffer = nullptr);
  void load(const LayerJob& job);
  // One edge; the last write of the job pauses the simulation (sc_pause).
  void edge(const ColumnValues& in, bool rst);
  bool done() const { return written_ == expected_; }
  sc_core::sc_time last_write_time() const { return last_write_; }

 private:

  const int cols_;
  const int out_bytes_;  // one result as it leaves the array (--out-format)
  Stats* stats_;
  OutputBuffer* out_buffer_;
  const LayerJob* job_ = nullptr;
  float factor_ = 0.0f;
  uint64_t written_ = 0, expected_ = 0;
  sc_core::sc_time last_write_;
};

}  // namespace mls::hw
