#pragma once
// The output buffer: finished outputs (fp32) wait here until the DRAM has
// written them back. The controller reserves room for a block's outputs
// before it issues the block's last chunk tile; the final-scale unit hands
// them over as it writes them, and they leave when their write-back completes.
#include <cstdint>
#include <deque>

#include "hw_model/memory/dram.h"

namespace mls::hw {

class OutputBuffer {
 public:
  explicit OutputBuffer(Dram* dram) : dram_(dram) {}

  // Before a pass: capacity in bytes (0 = unlimited); inactive = ideal memory.
  void load(uint64_t capacity_bytes, bool active);
  // Controller: room for `bytes` more outputs? Reserves them when there is.
  bool reserve(uint64_t bytes);
  // Final scale: `count` outputs of `bytes` were written; start their write-back.
  void written(uint64_t count, uint64_t bytes);
  // Every write-back complete by the end of the last edge simulated.
  bool drained() const;
  uint64_t written_elements() const { return elements_; }

 private:
  struct Pending {
    size_t transfer;
    uint64_t bytes;
  };
  Dram* dram_;
  bool active_ = false;
  uint64_t capacity_ = 0, occupied_ = 0, elements_ = 0;
  std::deque<Pending> pending_;
};

}  // namespace mls::hw
