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
class AdderTree {
 public:
  static constexpr const char* kName = "adder_tree";  // in the stats registry and the VCD file
  using In = ScaledSums;
  using Out = ColumnValues;

  AdderTree(const ArrayConfig& cfg, Stats* stats);
  int stages() const { return int(levels_per_stage_.size()); }
  void edge(const ScaledSums& in, ColumnValues& out, bool rst);

 private:
  // The values between two pipeline stages: `slots` partial sums per column.
  struct Stage {
    Tag tag;
    int active_cols = 0;
    int slots = 0;
    std::vector<uint8_t> slot_valid;  // [slots]
    std::vector<float> value;         // [slots][C]
  };
  void reduce_level(const float* src, const uint8_t* src_valid, Stage& s) const;
  uint64_t reduce_levels(Stage& s, int levels) const;
  uint64_t load_input(Stage& dst, const ScaledSums& in_s, bool rst, int levels) const;

  const int rows_, cols_;
  const Fault fault_;
  Stats* stats_;
  std::vector<int> levels_per_stage_;
  std::vector<Stage> regs_;  // stage registers before the output register
  Stage head_;               // the input, when the output register is the only stage
  bool busy_ = false;        // some stage or the output holds a valid value
  mutable uint64_t adds_ = 0;
};

}  // namespace mls::hw
