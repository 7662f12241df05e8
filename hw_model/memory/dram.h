#pragma once
// The DRAM (next-level memory) interface: one channel that moves `dram_bw`
// bytes per clock edge (0: a whole transfer in one edge) for the transfers
// queued by the buffers, first come first served, reads and output write-backs
// alike. A transfer is served from the edge after it was queued; it completes
// `dram_latency` edges after its last byte moved, and its data can be used
// from the edge after that. Every query compares with the current edge, so the
// answer never depends on the order in which the edge's work is done.
//
// A plain class (no SystemC process): the array's one process calls the
// memory system's edge (memory_system.h) with the edge's number before its
// blocks, so runs of edges can be done in one activation with the memory
// system on as with the ideal memory (EdgeClock::skip).
#include <systemc>
#include <cstdint>
#include <deque>
#include <vector>

#include "ref/core/config.h"

namespace mls::hw {

// The clock edge of the simulated time: the array's clock has a 1 ns period.
inline uint64_t clock_edge() { return uint64_t(sc_core::sc_time_stamp().value() / sc_core::sc_time(1, sc_core::SC_NS).value()); }

class Dram {
 public:
  explicit Dram(const MemoryConfig& cfg);

  // Before a pass: forget every transfer and stop the channel.
  void reset();
  // With the array's start: the channel serves from the next edge on.
  void start() { active_ = true; }
  // The current edge's number (its time in clock periods): set before
  // anything asks or requests at the edge.
  void at_edge(uint64_t now) { now_ = now; }
  uint64_t now() const { return now_; }
  // One edge of the channel: moves the bytes of the transfers queued before
  // this edge (inline: an idle channel costs a test).
  void edge() {
    if (active_ && !queue_.empty()) serve();
  }
  // Who asks: transfers queued at the same edge are served in this order, so
  // the order never depends on which block asked first.
  enum Source { kX = 0, kY = 1, kOut = 2 };
  // Queues a transfer of `bytes` (a write for kOut, else a read) and returns
  // its id. A zero-byte transfer is complete at once.
  size_t request(uint64_t bytes, Source source);
  // The transfer's data is usable at this edge.
  bool done(size_t id) const { return done_edge_[id] != kPending && done_edge_[id] < now_; }
  // The transfer has completed by the end of this edge (usable from the next).
  bool done_after_edge(size_t id) const { return done_edge_[id] != kPending && done_edge_[id] <= now_; }
  uint64_t last_done_edge() const { return last_done_; }
  uint64_t read_bytes() const { return read_bytes_; }
  uint64_t write_bytes() const { return write_bytes_; }

 private:
  void serve();

  static constexpr uint64_t kPending = ~uint64_t{0};
  struct Transfer {
    size_t id;
    uint64_t remaining, queued_edge;
    int source;
  };

  const uint64_t bw_, latency_;
  bool active_ = false;
  uint64_t now_ = 0;
  std::deque<Transfer> queue_;
  std::vector<uint64_t> done_edge_;
  uint64_t last_done_ = 0, read_bytes_ = 0, write_bytes_ = 0;
};

}  // namespace mls::hw
