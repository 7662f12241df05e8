#pragma once
// The C column adder trees: each sums the R scaled chunk results of its column
// pairwise, level by level (slot 2i + slot 2i+1; a slot with no value passes its
// partner through, an odd last slot moves up unchanged). The ceil(log2 R) levels
// are spread over `tree_stages` pipeline registers, the last one being the
// tree's output register.
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
//
// Nothing outside reads the values between two stage registers, so a tile
// is reduced through all of its levels as it enters the first stage
// (kernels::tree_tile: the same adds in the same order per column, whole
// column vectors at a time), and the stage registers carry its finished
// column sums: the output register gets them `stages` edges after the
// input, as when each stage reduced its own levels.
class AdderTree {
 public:
  static constexpr const char* kName = "adder_tree";  // in the stats registry and the VCD file
  using In = ScaledSums;
  using Out = ColumnValues;

  AdderTree(const ArrayConfig& cfg, Stats* stats);
  int stages() const { return stages_; }
  void edge(const ScaledSums& in, ColumnValues& out, bool rst) {
    // Nothing in flight: every stage would pass invalid values on. Checked
    // here, in the caller, as most edges between tiles are such edges.
    if (!busy_ && !in.tag.valid && !rst) {
      out.tag.valid = false;
      return;
    }
    move(in, out, rst);
  }

 private:
  void move(const ScaledSums& in, ColumnValues& out, bool rst);  // an edge with a tile in flight

  // A stage register: a tile's column sums on their way to the output.
  struct Stage {
    Tag tag;
    int active_cols = 0;
    std::vector<float> value;  // [C]
  };
  uint64_t load_input(Stage& dst, const ScaledSums& in, bool rst);

  const int rows_, cols_;
  const Fault fault_;
  const int stages_;
  Stats* stats_;
  // The stage registers before the output register, a ring: stage s is
  // regs_[(first_ + s) % (stages - 1)], so moving every tile up one stage
  // moves an index, not the registers.
  std::vector<Stage> regs_;
  int first_ = 0;
  int held_ = 0;  // how many of regs_ hold a valid tile
  Stage head_;               // the input, when the output register is the only stage
  bool busy_ = false;        // some stage or the output holds a valid value
  std::vector<float> scratch_;  // the kernel's slots, [R + 1][8]
  std::vector<uint8_t> ops_;    // the kernel's level plan, [2 R]
};

}  // namespace mls::hw
