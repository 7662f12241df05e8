#include "hw_model/memory/memory_system.h"

#include <algorithm>
#include <vector>

namespace mls::hw {

namespace {

template <class T>
uint64_t sum(const std::vector<T>& v) {
  uint64_t s = 0;
  for (T e : v) s += e;
  return s;
}

}  // namespace

void MemorySystem::load(const MemoryPlan& plan) {
  plan_ = &plan;
  active_ = false;
  dram.reset();
  x_buffer.load(plan.ideal ? nullptr : &plan.x);
  y_buffer.load(plan.ideal ? nullptr : &plan.y);
  out_buffer.load(plan.out_capacity_bytes, !plan.ideal);
}

void MemorySystem::start() {
  if (plan_->ideal) return;
  active_ = true;
  dram.start();
  x_buffer.start();
  y_buffer.start();
}

uint64_t MemorySystem::last_edge(uint64_t last_write) const {
  return plan_->ideal ? last_write : std::max(last_write, dram.last_done_edge());
}

void MemorySystem::dram_traffic(uint64_t written, int out_bytes, Traffic& t) const {
  const MemoryPlan& plan = *plan_;
  if (plan.ideal) {
    t.x_dram_read = sum(plan.x.elements), t.x_scale_dram_read = sum(plan.x.scales);
    t.y_dram_read = sum(plan.y.elements), t.y_scale_dram_read = sum(plan.y.scales);
    t.x_dram_read_bytes = sum(plan.x.bytes), t.y_dram_read_bytes = sum(plan.y.bytes);
    t.out_dram_write = written;
    t.dram_write_bytes = written * uint64_t(out_bytes);
  } else {
    t.x_dram_read = x_buffer.fetched_elements(), t.x_scale_dram_read = x_buffer.fetched_scales();
    t.y_dram_read = y_buffer.fetched_elements(), t.y_scale_dram_read = y_buffer.fetched_scales();
    t.x_dram_read_bytes = x_buffer.fetched_bytes(), t.y_dram_read_bytes = y_buffer.fetched_bytes();
    t.out_dram_write = out_buffer.written_elements();
    t.dram_write_bytes = dram.write_bytes();
  }
  t.dram_read_bytes = t.x_dram_read_bytes + t.y_dram_read_bytes;
}

}  // namespace mls::hw
