#include "hw_model/memory/tile_buffer.h"

#include "ref/core/error.h"

namespace mls::hw {

void TileBuffer::load(const OperandPlan* plan) {
  plan_ = plan;
  current_ = 0;
  advanced_edge_ = 0;
  next_fetch_ = 0;
  request_.clear();
  elements_ = scales_ = bytes_ = 0;
  active_ = false;
}

bool TileBuffer::acquire(int64_t tile) {
  if (!plan_) return true;
  const std::vector<int64_t>& demand = plan_->tile;
  if (current_ >= demand.size()) throw Error("tile buffer: tile asked for after the plan's last demand");
  if (demand[current_] != tile) {
    // The controller moved on: the previous tile's slot is free from the next edge.
    if (current_ + 1 >= demand.size() || demand[current_ + 1] != tile)
      throw Error("tile buffer: tile " + std::to_string(tile) + " asked for out of the plan's order");
    ++current_;
    advanced_edge_ = dram_->now();
  }
  return current_ < next_fetch_ && dram_->done(request_[current_]);
}

void TileBuffer::edge() {
  if (!active_) return;
  const uint64_t now = dram_->now();
  // What the controller did at this edge is seen from the next one.
  const size_t current = advanced_edge_ == now && current_ > 0 ? current_ - 1 : current_;
  const size_t slots = plan_->slots ? size_t(plan_->slots) : ~size_t{0};
  while (next_fetch_ < plan_->tile.size() && next_fetch_ - current < slots) {
    const size_t d = next_fetch_++;
    request_.push_back(dram_->request(plan_->bytes[d], source_));
    elements_ += plan_->elements[d];
    scales_ += plan_->scales[d];
    bytes_ += plan_->bytes[d];
  }
}

}  // namespace mls::hw
