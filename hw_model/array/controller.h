#pragma once
// Controller / sequencer: walks the job's mapping (ref/mapping/mapping.h) and issues,
// every cycle, which (g, k) each row reads. The mapping gives the loop order
// over (m-tile, p, chunk tile), the chunk each row reduces and each tile's
// length; inside a tile the controller steps through k, and the next tile
// follows with no bubble. With a memory system (hw_model/memory/), a block
// starts only when its X and Y tiles are in their buffers and, for a block
// that finishes outputs, the output buffer has room for them; until then the
// controller issues nothing and counts the edge in stall_cycles.
#include <systemc>
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/memory/output_buffer.h"
#include "hw_model/memory/tile_buffer.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"
#include "ref/mapping/mapping.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class Controller {
 public:
  static constexpr const char* kName = "controller";  // in the stats registry and the VCD file
  using Out = IssueCmd;

  // The stats and buffers are needed only by start(job, true).
  explicit Controller(const ArrayConfig& cfg, Stats* stats = nullptr, TileBuffer* x_buffer = nullptr,
                      TileBuffer* y_buffer = nullptr, OutputBuffer* out_buffer = nullptr);
  // One edge: the next issue command (invalid while idle, stalled or in reset).
  void edge(IssueCmd& cmd, bool rst);

  // Host: begin issuing at the next edge; `memory`: ask the buffers before
  // each block (false: the ideal memory, never a stall). Throws mls::Error
  // when the job's mapping is for another array size.
  void start(const LayerJob& job, bool memory = false);
  bool busy() const { return busy_; }
  uint64_t issued() const { return issued_; }
  uint64_t total_issues() const { return total_issues_; }
  // The first edge the controller tried to issue (a stall or an issue).
  sc_core::sc_time first_issue_time() const { return first_issue_; }
  // The next edge is the first try to issue, which reads the simulated time.
  bool first_issue_pending() const { return busy_ && !started_; }
  // Quiet edges: from the next edge on, how many issue the rest of a tile
  // while the three issues before them, still in the pipeline registers,
  // are of the same tile (this tile's step 3 or later: no stall and no
  // reset within a tile). At those edges the operand buffers and
  // multipliers see neither a first nor a last step and the local
  // accumulators no last step, so the front only moves its bundles on; the
  // controller too but at the tile's last step (its tag, and the move to
  // the next tile). 0 when the next edge is not such an edge.
  int quiet_steps() const { return busy_ && started_ && step_ >= 3 ? int(tile_->steps - step_) : 0; }
  // Issues `edges` steps at once, as edge() would one by one; not the
  // tile's last (edges < quiet_steps()).
  void skip_quiet(int edges) { step_ += edges, issued_ += uint64_t(edges); }

 private:
  void build_tiles(const LayerJob& job);
  void fill(IssueCmd& c) const;
  void advance();
  bool operands_ready();

  const int rows_, cols_;
  const int out_bytes_;  // one result as it leaves the array (--out-format)
  Stats* stats_;
  TileBuffer* x_buffer_;
  TileBuffer* y_buffer_;
  OutputBuffer* out_buffer_;
  bool memory_ = false;
  Mapping mapping_;
  LoopNest nest_;
  std::vector<TileRows> tiles_;  // [tile], from the mapping
  TilePos pos_;
  const TileRows* tile_ = nullptr;  // tiles_[pos_.tile], looked up when pos_ moves
  int active_cols_ = 0;  // the m-tile of pos_'s real columns, looked up when pos_ moves to another tile
  int64_t step_ = 0;
  bool busy_ = false;
  uint64_t issued_ = 0, total_issues_ = 0;
  bool started_ = false;
  sc_core::sc_time first_issue_;
};

}  // namespace mls::hw
