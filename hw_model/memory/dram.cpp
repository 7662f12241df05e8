#include "hw_model/memory/dram.h"

#include <algorithm>
#include <iterator>

namespace mls::hw {

Dram::Dram(sc_core::sc_module_name name, const MemoryConfig& cfg)
    : sc_module(name), bw_(uint64_t(cfg.dram_bw)), latency_(uint64_t(cfg.dram_latency)) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void Dram::reset() {
  queue_.clear();
  done_edge_.clear();
  last_done_ = 0;
  read_bytes_ = write_bytes_ = 0;
  active_ = false;  // an ideal memory never wakes the channel: no cost per edge
}

void Dram::start() {
  active_ = true;
  wake_.notify(sc_core::SC_ZERO_TIME);
}

size_t Dram::request(uint64_t bytes, Source source) {
  const size_t id = done_edge_.size();
  (source == kOut ? write_bytes_ : read_bytes_) += bytes;
  if (bytes == 0) {
    done_edge_.push_back(0);
    return id;
  }
  done_edge_.push_back(kPending);
  const Transfer t{id, bytes, clock_edge(), int(source)};
  // Behind every transfer of an earlier edge or of a source first in order.
  auto at = queue_.end();
  while (at != queue_.begin() && std::prev(at)->queued_edge == t.queued_edge && std::prev(at)->source > t.source) --at;
  queue_.insert(at, t);
  return id;
}

bool Dram::idle() const {
  const uint64_t now = clock_edge();
  if (!queue_.empty()) return false;
  return last_done_ < now;
}

void Dram::on_clock() {
  if (!active_) {
    next_trigger(wake_);  // dormant until a pass with a real memory starts
    return;
  }
  next_trigger();  // back to the clock
  if (!clk.posedge()) return;  // woken between edges: wait for the next one
  const uint64_t now = clock_edge();
  uint64_t budget = bw_ ? bw_ : ~uint64_t{0};
  while (budget && !queue_.empty() && queue_.front().queued_edge < now) {
    Transfer& t = queue_.front();
    const uint64_t moved = std::min(budget, t.remaining);
    t.remaining -= moved;
    budget -= moved;
    if (t.remaining) break;
    done_edge_[t.id] = now + latency_;
    last_done_ = std::max(last_done_, now + latency_);
    queue_.pop_front();
  }
}

}  // namespace mls::hw
