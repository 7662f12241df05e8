#pragma once
// Data moved between the levels of the memory system during a layer-pass
// (docs/reference.md#the-run-report, "traffic"), the memory system's part of
// the statistics registry (stats.h: a counter, then its row with its key, unit
// and description): element counts per stream and
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
  const char* key;          // its key in the report's "traffic" (or "traffic.elements")
  uint64_t Traffic::*field;  // the member the memory system increments
  bool bytes;               // in "traffic" itself; else in "traffic.elements"
  const char* unit;         // what one count is
  const char* description;
};

inline constexpr TrafficInfo kTrafficTable[] = {
    {"dram_read_bytes", &Traffic::dram_read_bytes, true,
     "bytes", "bytes read from DRAM into the X and Y buffers: x_dram_read_bytes + y_dram_read_bytes"},
    {"dram_write_bytes", &Traffic::dram_write_bytes, true,
     "bytes", "bytes written back from the output buffer to DRAM (4 per output)"},
    {"x_buffer_read_bytes", &Traffic::x_buffer_read_bytes, true,
     "bytes", "bytes the array read from the X buffer: elements and group scales"},
    {"y_buffer_read_bytes", &Traffic::y_buffer_read_bytes, true,
     "bytes", "bytes the array read from the Y buffer: elements and group scales"},
    {"out_buffer_write_bytes", &Traffic::out_buffer_write_bytes, true,
     "bytes", "bytes the final-scale units wrote into the output buffer (4 per output)"},
    {"x_dram_read_bytes", &Traffic::x_dram_read_bytes, true,
     "bytes", "bytes of X read from DRAM: elements and group scales"},
    {"y_dram_read_bytes", &Traffic::y_dram_read_bytes, true,
     "bytes", "bytes of Y read from DRAM: elements and group scales"},
    {"x_dram_read", &Traffic::x_dram_read, false,
     "elements", "X elements fetched from DRAM (padding and zero-insertion taps are never fetched)"},
    {"x_scale_dram_read", &Traffic::x_scale_dram_read, false,
     "group scales", "X group scales fetched from DRAM"},
    {"y_dram_read", &Traffic::y_dram_read, false,
     "elements", "Y elements fetched from DRAM (padding and zero-insertion taps are never fetched)"},
    {"y_scale_dram_read", &Traffic::y_scale_dram_read, false,
     "group scales", "Y group scales fetched from DRAM"},
    {"out_dram_write", &Traffic::out_dram_write, false,
     "elements", "outputs written back to DRAM"},
    {"x_buffer_read", &Traffic::x_buffer_read, false,
     "elements", "X element reads from the buffer (read_x: zero taps included, PE-register reuse excluded)"},
    {"x_scale_buffer_read", &Traffic::x_scale_buffer_read, false,
     "group scales", "X group-scale reads: one per active PE per chunk, unless the PE holds its chunk"},
    {"y_buffer_read", &Traffic::y_buffer_read, false,
     "elements", "Y element reads from the buffer (read_y: zero taps included, PE-register reuse excluded)"},
    {"y_scale_buffer_read", &Traffic::y_scale_buffer_read, false,
     "group scales", "Y group-scale reads: one per active row per chunk (broadcast), unless the row holds its chunk"},
    {"out_buffer_write", &Traffic::out_buffer_write, false,
     "elements", "outputs written into the output buffer (write_out)"},
};
static_assert(sizeof(Traffic) == std::size(kTrafficTable) * sizeof(uint64_t), "every Traffic field needs a row");

inline Traffic& Traffic::operator+=(const Traffic& o) {
  for (const TrafficInfo& t : kTrafficTable) this->*t.field += o.*t.field;
  return *this;
}

// {"dram_read_bytes": n, ..., "elements": {"x_dram_read": n, ...}}
nlohmann::json traffic_json(const Traffic& t);

}  // namespace mls::hw
