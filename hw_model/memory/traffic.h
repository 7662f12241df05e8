#pragma once
// Data moved between the levels of the memory system during a layer-pass
// (docs/reference.md#the-run-report, "traffic"): element counts per stream and
// level, so that another design's word widths can be priced, and the bytes at
// this run's widths (an element is 1 + E_x + M_x bits, a group scale E_g + M_g
// bits, an output 32 bits).
#include <cstdint>
#include <iterator>

#include <nlohmann/json_fwd.hpp>

namespace mls::hw {

struct Traffic {
  // Elements (and group scales) per stream and level.
  uint64_t x_dram_read = 0, x_scale_dram_read = 0;
  uint64_t y_dram_read = 0, y_scale_dram_read = 0;
  uint64_t out_dram_write = 0;
  uint64_t x_buffer_read = 0, x_scale_buffer_read = 0;
  uint64_t y_buffer_read = 0, y_scale_buffer_read = 0;
  uint64_t out_buffer_write = 0;
  // Bytes at this run's widths.
  uint64_t dram_read_bytes = 0, dram_write_bytes = 0;
  uint64_t x_dram_read_bytes = 0, y_dram_read_bytes = 0;
  uint64_t x_buffer_read_bytes = 0, y_buffer_read_bytes = 0, out_buffer_write_bytes = 0;

  Traffic& operator+=(const Traffic& o);
};

struct TrafficInfo {
  const char* key;
  uint64_t Traffic::*field;
  bool bytes;  // in "traffic" itself; else in "traffic.elements"
};

inline constexpr TrafficInfo kTrafficTable[] = {
    {"dram_read_bytes", &Traffic::dram_read_bytes, true},
    {"dram_write_bytes", &Traffic::dram_write_bytes, true},
    {"x_buffer_read_bytes", &Traffic::x_buffer_read_bytes, true},
    {"y_buffer_read_bytes", &Traffic::y_buffer_read_bytes, true},
    {"out_buffer_write_bytes", &Traffic::out_buffer_write_bytes, true},
    {"x_dram_read_bytes", &Traffic::x_dram_read_bytes, true},
    {"y_dram_read_bytes", &Traffic::y_dram_read_bytes, true},
    {"x_dram_read", &Traffic::x_dram_read, false},
    {"x_scale_dram_read", &Traffic::x_scale_dram_read, false},
    {"y_dram_read", &Traffic::y_dram_read, false},
    {"y_scale_dram_read", &Traffic::y_scale_dram_read, false},
    {"out_dram_write", &Traffic::out_dram_write, false},
    {"x_buffer_read", &Traffic::x_buffer_read, false},
    {"x_scale_buffer_read", &Traffic::x_scale_buffer_read, false},
    {"y_buffer_read", &Traffic::y_buffer_read, false},
    {"y_scale_buffer_read", &Traffic::y_scale_buffer_read, false},
    {"out_buffer_write", &Traffic::out_buffer_write, false},
};
static_assert(sizeof(Traffic) == std::size(kTrafficTable) * sizeof(uint64_t), "every Traffic field needs a row");

inline Traffic& Traffic::operator+=(const Traffic& o) {
  for (const TrafficInfo& t : kTrafficTable) this->*t.field += o.*t.field;
  return *this;
}

// {"dram_read_bytes": n, ..., "elements": {"x_dram_read": n, ...}}
nlohmann::json traffic_json(const Traffic& t);

}  // namespace mls::hw
