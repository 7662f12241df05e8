#pragma once
// The C column output accumulators: fp32 registers that add one tree result per
// cycle (starting from +0.0) until the last chunk tile of an output, then hand
// the finished sum to the final-scale unit. When the mapping keeps several
// outputs of a column open at once (weight-stationary: every p of the m-tile),
// the accumulators keep one partial sum per (p, column).
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class OutputAccumulator {
 public:
  static constexpr const char* kName = "output_accumulator";  // in the stats registry and the VCD file
  using In = ColumnValues;
  using Out = ColumnValues;

  OutputAccumulator(const ArrayConfig& cfg, Stats* stats);
  void load(const LayerJob& job);
  void edge(const ColumnValues& in, ColumnValues& out, bool rst);

 private:

  const int cols_;
  Stats* stats_;
  bool per_p_ = false;
  std::vector<float> acc_;  // [C], or [P][C] with partial sums per p
};

}  // namespace mls::hw
