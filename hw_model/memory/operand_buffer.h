#pragma once
// Operand buffers: the X bank (one element per PE per cycle, by column) and the
// Y bank (one element per row per cycle, broadcast along the row). Loaded with a
// layer-pass's encoded elements before it runs; read once per cycle.
// PE-level reuse (Mapping::holds_x / holds_y): under weight-stationary each PE
// keeps its chunk of X in registers while p changes, under output-stationary
// each row keeps its chunk of Y while the m-tile changes; a block then reads
// that operand from the buffer only when the held chunk changes. The
// registers hold the same codes the buffer would give, so the model takes the
// values from the buffer arrays either way and counts reads only where a real
// buffer read happens (read_x, read_y and the traffic's buffer reads). What
// it hands the multipliers is the read's addresses (Operands), not a copy of
// the codes.
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/stats/traffic.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class OperandBuffer {
 public:
  static constexpr const char* kName = "operand_buffer";  // in the stats registry and the VCD file
  using In = IssueCmd;  // issue commands from the controller
  using Out = Operands;

  OperandBuffer(const ArrayConfig& cfg, Stats* stats, Traffic* traffic = nullptr);
  // Throws mls::Error when the job's mapping is for another array size.
  void load(const LayerJob& job);
  void edge(const IssueCmd& c, Operands& o, bool rst);

 private:
  void count_reads(const IssueCmd& c);  // a whole tile's reads, at its first step

  const int rows_, cols_;
  Stats* stats_;
  Traffic* traffic_;
  const LayerJob* job_ = nullptr;
  bool holds_x_ = false, holds_y_ = false;
  // The chunk tile the registers hold: (m-tile, tile) for X, (p, tile) for Y.
  int64_t held_x_m_ = -1, held_x_tile_ = -1, held_y_p_ = -1, held_y_tile_ = -1;
};

}  // namespace mls::hw
