#pragma once
// Event counters of the MAC array: one field per event, named exactly as the
// report keys of docs/reference.md#events. Each module increments its own fields where the event
// happens; nothing here is derived from a formula.
#include <cstdint>

namespace mls {

struct Stats {
  uint64_t cycles = 0;          // clock edges from first issue to last output write
  uint64_t pipeline_depth = 0;  // fill + drain latency, paid once per layer-pass
  uint64_t stall_cycles = 0;    // cycles lost to buffer capacity/bandwidth (0: not modelled)
  uint64_t mul = 0;             // products made by active PEs (padding zeros included)
  uint64_t mul_zero = 0;        // of which had a zero operand
  uint64_t acc_add = 0;         // local-accumulator additions (one per product)
  uint64_t acc_overflow = 0;    // additions whose sum left the accumulator range
  uint64_t scale = 0;           // group-scaler operations (one per chunk result)
  uint64_t tree_add = 0;        // fp32 additions in the adder trees
  uint64_t out_acc = 0;         // fp32 additions in the column output accumulators
  uint64_t final_mul = 0;       // fp32 multiplications by the tensor scales
  uint64_t read_x = 0;          // X operand-buffer reads (one per active PE per cycle)
  uint64_t read_y = 0;          // Y operand-buffer reads (one per active row per cycle)
  uint64_t write_out = 0;       // output elements written

  // Visits every counter as (report key, value), in report order.
  template <class F>
  void for_each(F&& f) {
    f("cycles", cycles);
    f("pipeline_depth", pipeline_depth);
    f("stall_cycles", stall_cycles);
    f("mul", mul);
    f("mul_zero", mul_zero);
    f("acc_add", acc_add);
    f("acc_overflow", acc_overflow);
    f("scale", scale);
    f("tree_add", tree_add);
    f("out_acc", out_acc);
    f("final_mul", final_mul);
    f("read_x", read_x);
    f("read_y", read_y);
    f("write_out", write_out);
  }
  template <class F>
  void for_each(F&& f) const {
    const_cast<Stats*>(this)->for_each([&](const char* key, uint64_t& v) { f(key, static_cast<const uint64_t&>(v)); });
  }

  Stats& operator+=(const Stats& o) {
    const uint64_t* src = &o.cycles;
    uint64_t* dst = &cycles;
    for (int i = 0; i < kCount; ++i) dst[i] += src[i];
    return *this;
  }

  // mul / (cycles * R * C)
  double utilization(int rows, int cols) const {
    return cycles ? double(mul) / (double(cycles) * rows * cols) : 0.0;
  }

  static constexpr int kCount = 14;
};

static_assert(sizeof(Stats) == Stats::kCount * sizeof(uint64_t), "Stats must hold only its counters");

}  // namespace mls
