#pragma once
// Layer-passes shared out while they run: `run -j N`'s workers (and --shard
// processes given --claims DIR) each walk the whole run's plan, largest
// layer-pass first, and run a layer-pass only once they have claimed it: a
// file created in DIR with O_EXCL, which exactly one process can create. So a
// worker that drew short layer-passes takes more, and none waits on an
// estimate that was wrong (docs/scale.md#run--j-n).
#include <string>

namespace mls {

class PassClaims {
 public:
  // dir must exist; an empty dir claims nothing (every take succeeds).
  explicit PassClaims(std::string dir) : dir_(std::move(dir)) {}
  // True when this process now owns `key` ("layer pass"), false when another
  // process claimed it first. Throws mls::Error naming DIR on any other failure.
  bool take(const std::string& key) const;
  // Whether some process has claimed `key` (false without a dir).
  bool taken(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace mls
