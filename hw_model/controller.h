#pragma once
// Controller / sequencer: walks the loop nest m-tile, p, chunk-tile, step and
// issues, every cycle, which (g, k) each row reads. Chunks are dealt R at a time
// to the rows, group-major; a tile lasts as long as its longest chunk, and the
// next tile follows with no bubble.
#include <systemc>
#include <vector>

#include "hw_model/bundles.h"
#include "hw_model/layer_job.h"
#include "hw_model/pipe_reg.h"
#include "ref/config.h"

namespace mls::hw {

class Controller : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;
  PipeOut<IssueCmd> cmd;

  SC_HAS_PROCESS(Controller);
  Controller(sc_core::sc_module_name name, const ArrayConfig& cfg);

  void start(const LayerJob& job);  // host: begin issuing at the next edge
  bool busy() const { return busy_; }
  uint64_t issued() const { return issued_; }
  uint64_t total_issues() const { return total_issues_; }
  sc_core::sc_time first_issue_time() const { return first_issue_; }

 private:
  struct TileRow {
    bool used = false;
    int32_t g = 0, k0 = 0, len = 0;
  };
  void on_clock();
  void fill(IssueCmd& c) const;
  void advance();

  const int rows_, cols_;
  std::vector<std::vector<TileRow>> tiles_;  // [tile][row]
  std::vector<int32_t> tile_len_;
  int64_t m_tiles_ = 0, m_ = 0, p_count_ = 0;
  int64_t mt_ = 0, p_ = 0, tile_ = 0, step_ = 0;
  bool busy_ = false;
  uint64_t issued_ = 0, total_issues_ = 0;
  sc_core::sc_time first_issue_;
};

}  // namespace mls::hw
