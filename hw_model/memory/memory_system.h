#pragma once
// The memory system around the array: the DRAM channel, the X and Y tile
// buffers and the output buffer, and the order of their work within an edge.
// It has no SystemC process of its own: the array's one process calls edge()
// at every edge, before its blocks, with the edge's number. So a run of edges
// done in one activation (EdgeClock::skip) runs the memory system edge by
// edge too, and no answer depends on the simulated time being current.
//
// Within an edge the buffers request first, then the channel serves, then the
// blocks ask (acquire, reserve) and hand over outputs (written). Requests of
// this edge are served from the next, and a completion of this edge is seen
// from the next, so only a zero-byte request (complete at once) is seen at
// the edge it was made; it is, as when the buffers' processes ran before the
// array's.
#include <cstdint>

#include "hw_model/memory/dram.h"
#include "hw_model/memory/memory_plan.h"
#include "hw_model/memory/output_buffer.h"
#include "hw_model/memory/tile_buffer.h"
#include "hw_model/stats/traffic.h"
#include "ref/core/config.h"

namespace mls::hw {

class MemorySystem {
 public:
  explicit MemorySystem(const MemoryConfig& cfg)
      : dram(cfg), x_buffer(&dram, Dram::kX), y_buffer(&dram, Dram::kY), out_buffer(&dram) {}

  // Before a pass: the plan to walk (an ideal plan: nothing runs, nothing stalls).
  void load(const MemoryPlan& plan);
  // With the array's start: refills and the channel begin at the next edge.
  void start();
  bool ideal() const { return !plan_ || plan_->ideal; }
  // One edge, before the array's blocks.
  void edge(uint64_t now) {
    if (!active_) return;
    dram.at_edge(now);
    y_buffer.edge();
    x_buffer.edge();
    dram.edge();
  }
  // The pass's last edge: its last output written at `last_write` (an edge
  // number) and, with a memory system, back in DRAM.
  uint64_t last_edge(uint64_t last_write) const;
  // The DRAM side of a pass's traffic: what the buffers fetched and wrote
  // back; the ideal memory fetches the plan's resident demands (each element
  // once) and writes back every output (`written` of `out_bytes` each).
  void dram_traffic(uint64_t written, int out_bytes, Traffic& t) const;

  Dram dram;
  TileBuffer x_buffer, y_buffer;
  OutputBuffer out_buffer;

 private:
  const MemoryPlan* plan_ = nullptr;
  bool active_ = false;
};

}  // namespace mls::hw
