#include "hw_model/memory/output_buffer.h"

namespace mls::hw {

void OutputBuffer::load(uint64_t capacity_bytes, bool active) {
  capacity_ = capacity_bytes;
  active_ = active;
  occupied_ = elements_ = 0;
  pending_.clear();
}

bool OutputBuffer::reserve(uint64_t bytes) {
  if (!active_) return true;
  while (!pending_.empty() && dram_->done(pending_.front().transfer)) {
    occupied_ -= pending_.front().bytes;
    pending_.pop_front();
  }
  if (capacity_ && occupied_ + bytes > capacity_) return false;
  occupied_ += bytes;
  return true;
}

void OutputBuffer::written(uint64_t count, uint64_t bytes) {
  elements_ += count;
  if (!active_) return;
  pending_.push_back({dram_->request(bytes, Dram::kOut), bytes});
}

bool OutputBuffer::drained() const {
  if (!active_) return true;
  for (const Pending& p : pending_)
    if (!dram_->done_after_edge(p.transfer)) return false;
  return true;
}

}  // namespace mls::hw
