#pragma once
// An operand buffer's capacity and its refill control (the X buffer and the Y
// buffer are one instance each). It walks the pass's plan of tile demands
// (memory_plan.h): while the buffer has a free slot it requests the next
// demand's bytes from the DRAM (double buffering when it holds two tiles:
// the next tile streams in while the array uses the current one). The
// controller asks for a block's tile with acquire(): true when the tile is in
// the buffer; moving to the next demand frees the previous tile's slot from
// the next edge on. A buffer whose operand fits keeps every tile (resident).
// A plain class: the memory system's edge (memory_system.h) calls edge().
#include <cstdint>
#include <vector>

#include "hw_model/memory/dram.h"
#include "hw_model/memory/memory_plan.h"
#include "hw_model/stats/traffic.h"

namespace mls::hw {

class TileBuffer {
 public:
  TileBuffer(Dram* dram, Dram::Source source) : dram_(dram), source_(source) {}

  // Before a pass: the plan to walk, or nullptr for the ideal memory (every
  // tile present, no refill).
  void load(const OperandPlan* plan);
  // With the array's start: refills begin at the next edge (unless ideal).
  void start();
  // One edge of the refill control: requests demands while a slot is free.
  // The memory system's edge runs before the controller's, so a move to the
  // next demand (acquire) frees its slot from the next edge on. Inline: at
  // most edges there is nothing to request.
  void edge() {
    if (next_fetch_ < fetch_limit_) refill();
  }
  // Controller, at a block's first issue: is `tile` in the buffer? Tiles must
  // be asked for in the plan's demand order.
  bool acquire(int64_t tile);
  // What the buffer fetched so far in this pass.
  uint64_t fetched_elements() const { return elements_; }
  uint64_t fetched_scales() const { return scales_; }
  uint64_t fetched_bytes() const { return bytes_; }

 private:
  void refill();
  // The demands up to which a free slot allows requests: current_ + slots,
  // at most the plan's end; 0 before start() and under the ideal memory.
  size_t limit() const;

  Dram* dram_;
  const Dram::Source source_;
  const OperandPlan* plan_ = nullptr;
  static constexpr size_t kNone = ~size_t{0};
  size_t current_ = 0;          // demand in use or awaited by the controller
  size_t arrived_ = kNone;      // current_ when its tile was found in the buffer
  size_t next_fetch_ = 0;       // next demand to request
  size_t fetch_limit_ = 0;      // limit() as of this edge's refill
  std::vector<size_t> request_;  // per requested demand: its DRAM transfer
  uint64_t elements_ = 0, scales_ = 0, bytes_ = 0;
};

}  // namespace mls::hw
