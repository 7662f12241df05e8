#pragma once
// Event counters of the MAC array and their registry
// (docs/developing.md#adding-a-statistic).
//
// A counter is a plain member that its block increments where the event
// happens: no lookup, no virtual call in the clocked loops. It is declared once
// more, in kStatTable, with its report key, the block that counts it, its unit
// and what it counts. Everything that handles counters as a set walks the
// table: +=, the report's flat "events" and hierarchical "stats" objects
// (stats.cpp), the energy model's reader, the sweep's metric columns.
#include <cstddef>
#include <cstdint>
#include <iterator>

#include <nlohmann/json_fwd.hpp>

namespace mls {

// What each counter counts, and who counts it: kStatTable below.
struct Stats {
  uint64_t cycles = 0;
  uint64_t pipeline_depth = 0;
  uint64_t stall_cycles = 0;
  uint64_t mul = 0;
  uint64_t mul_zero = 0;
  uint64_t acc_add = 0;
  uint64_t acc_overflow = 0;
  uint64_t scale = 0;
  uint64_t tree_add = 0;
  uint64_t out_acc = 0;
  uint64_t final_mul = 0;
  uint64_t read_x = 0;
  uint64_t read_y = 0;
  uint64_t write_out = 0;
  uint64_t scale_mul = 0;
  uint64_t requant = 0;

  Stats& operator+=(const Stats& o);

  // mul / (cycles * R * C): derived, so not a counter.
  double utilization(int rows, int cols) const {
    return cycles ? double(mul) / (double(cycles) * rows * cols) : 0.0;
  }
};

struct StatInfo {
  const char* key;           // flat key of the report's "events" and results.csv, as it always was
  uint64_t Stats::*counter;  // the member the block increments
  const char* block;         // the array's block that counts it (MacArray::block_names, or mac_array): its group in "stats"
  const char* unit;          // what one count is
  const char* description;
};

// The registry, in the report's order (the results.csv column order).
inline constexpr StatInfo kStatTable[] = {
    {"cycles", &Stats::cycles, "mac_array", "cycles",
     "clock edges from the first issue to the last output write, inclusive"},
    {"pipeline_depth", &Stats::pipeline_depth, "mac_array", "cycles",
     "edges of the span with no issue and no stall: the drain after the last issue, and with a memory system the "
     "last write-back (cycles - issues - stalls)"},
    {"stall_cycles", &Stats::stall_cycles, "controller", "cycles",
     "edges the controller could not start a block: an X or Y tile not yet in its buffer, or no room in the output "
     "buffer (0 with the ideal memory)"},
    {"mul", &Stats::mul, "multiplier", "products", "products made by active PEs, padding zeros included"},
    {"mul_zero", &Stats::mul_zero, "multiplier", "products", "products with a zero operand (could be gated)"},
    {"acc_add", &Stats::acc_add, "local_accumulator", "additions", "local-accumulator additions, one per product"},
    {"acc_overflow", &Stats::acc_overflow, "local_accumulator", "additions",
     "additions whose sum left the acc_bits range"},
    {"scale", &Stats::scale, "group_scaler", "operations", "group-scaler operations, one per chunk result"},
    {"tree_add", &Stats::tree_add, "adder_tree", "fp32 additions", "fp32 additions in the adder trees"},
    {"out_acc", &Stats::out_acc, "output_accumulator", "fp32 additions",
     "fp32 additions in the column output accumulators"},
    {"final_mul", &Stats::final_mul, "final_scale", "fp32 multiplications",
     "multiplications of finished outputs by the tensor scales"},
    {"read_x", &Stats::read_x, "operand_buffer", "element reads", "X buffer reads, one per active PE per cycle"},
    {"read_y", &Stats::read_y, "operand_buffer", "element reads",
     "Y buffer reads, one per active row per cycle (broadcast along the row)"},
    {"write_out", &Stats::write_out, "final_scale", "element writes", "output elements written"},
    {"scale_mul", &Stats::scale_mul, "group_scaler", "operations",
     "the group-scaler operations done by the multiplier form (a scale format with M_g >= 2); 0 when every M_g <= 1"},
    {"requant", &Stats::requant, "mac_array", "elements",
     "operand elements quantized again for this pass because a block grouping (kB) blocks the operand along "
     "another axis than its earlier passes (0 for the other groupings); counted by the run, the quantizer being "
     "no block of the array (docs/formats.md#block-groupings)"},
};

// A member without a table row would be left out of +=, the report and the
// energy model without a word: every member must have its row.
static_assert(sizeof(Stats) == std::size(kStatTable) * sizeof(uint64_t), "every Stats counter needs a kStatTable row");

inline Stats& Stats::operator+=(const Stats& o) {
  for (const StatInfo& s : kStatTable) this->*s.counter += o.*s.counter;
  return *this;
}

// {"cycles": n, "mul": n, ...}: every counter by its flat key (the report's
// "events" without the derived utilization).
nlohmann::json counters_json(const Stats& s);
// {"multiplier": {"mul": n, "mul_zero": n}, ...}: the counters grouped by the
// block that counts them, the report's "stats".
nlohmann::json stats_tree_json(const Stats& s);
// {"multiplier": {"mul": {"unit": ..., "description": ...}}, ...}: the report's
// "stats_info", the same tree with what each counter means.
nlohmann::json stats_info_json();

}  // namespace mls
