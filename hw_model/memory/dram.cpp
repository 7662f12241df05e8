#include "hw_model/memory/dram.h"

#include <algorithm>
#include <iterator>

namespace mls::hw {

Dram::Dram(const MemoryConfig& cfg) : bw_(uint64_t(cfg.dram_bw)), latency_(uint64_t(cfg.dram_latency)) {}

void Dram::reset() {
  queue_.clear();
  done_edge_.clear();
  last_done_ = 0;
  read_bytes_ = write_bytes_ = 0;
  active_ = false;  // an ideal memory never runs the channel: no cost per edge
}

size_t Dram::request(uint64_t bytes, Source source) {
  const size_t id = done_edge_.size();
  (source == kOut ? write_bytes_ : read_bytes_) += bytes;
  if (bytes == 0) {
    done_edge_.push_back(0);
    return id;
  }
  done_edge_.push_back(kPending);
  const Transfer t{id, bytes, now_, int(source)};
  // Behind every transfer of an earlier edge or of a source first in order.
  auto at = queue_.end();
  while (at != queue_.begin() && std::prev(at)->queued_edge == t.queued_edge && std::prev(at)->source > t.source) --at;
  queue_.insert(at, t);
  return id;
}

void Dram::serve() {
  uint64_t budget = bw_ ? bw_ : ~uint64_t{0};
  while (budget && !queue_.empty() && queue_.front().queued_edge < now_) {
    Transfer& t = queue_.front();
    const uint64_t moved = std::min(budget, t.remaining);
    t.remaining -= moved;
    budget -= moved;
    if (t.remaining) break;
    done_edge_[t.id] = now_ + latency_;
    last_done_ = std::max(last_done_, now_ + latency_);
    queue_.pop_front();
  }
}

}  // namespace mls::hw
