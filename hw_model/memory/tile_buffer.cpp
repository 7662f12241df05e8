#include "hw_model/memory/tile_buffer.h"

#include <algorithm>

#include "ref/core/error.h"

namespace mls::hw {

void TileBuffer::load(const OperandPlan* plan) {
  plan_ = plan;
  current_ = 0;
  arrived_ = kNone;
  next_fetch_ = 0;
  fetch_limit_ = 0;  // dormant until start()
  request_.clear();
  elements_ = scales_ = bytes_ = 0;
}

void TileBuffer::start() {
  if (plan_) fetch_limit_ = limit();
}

size_t TileBuffer::limit() const {
  const size_t demands = plan_->tile.size();
  // Streaming: `slots` tiles from the current one; resident: every demand.
  return plan_->slots ? std::min(demands, current_ + size_t(plan_->slots)) : demands;
}

bool TileBuffer::acquire(int64_t tile) {
  if (!plan_) return true;
  const std::vector<int64_t>& demand = plan_->tile;
  // The demand in use, already found arrived (a transfer stays done): the
  // usual call, once per block and on every edge it stalls on the other buffer.
  if (current_ == arrived_ && demand[current_] == tile) return true;
  if (current_ >= demand.size()) throw Error("tile buffer: tile asked for after the plan's last demand");
  if (demand[current_] != tile) {
    // The controller moved on: the previous tile's slot is free from the next
    // edge (the refill of this edge ran before the controller).
    if (current_ + 1 >= demand.size() || demand[current_ + 1] != tile)
      throw Error("tile buffer: tile " + std::to_string(tile) + " asked for out of the plan's order");
    ++current_;
    fetch_limit_ = limit();
  }
  if (!(current_ < next_fetch_ && dram_->done(request_[current_]))) return false;
  arrived_ = current_;
  return true;
}

void TileBuffer::refill() {
  while (next_fetch_ < fetch_limit_) {
    const size_t d = next_fetch_++;
    request_.push_back(dram_->request(plan_->bytes[d], source_));
    elements_ += plan_->elements[d];
    scales_ += plan_->scales[d];
    bytes_ += plan_->bytes[d];
  }
}

}  // namespace mls::hw
