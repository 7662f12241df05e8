#pragma once
// The golden model's intermediate results of one pass, level by level (chunk
// sums, overflows, scaled chunks, tree outputs, output accumulators), for the
// RTL's test vectors (`mlssim vectors`, docs/rtl.md#test-vectors).
//
// The walk is plain C++ on ref/golden's own functions (accumulate, scale_chunk,
// tree_reduce, final_scale_factor) in the Mapping's order, never hw_model's
// arithmetic; every output it reaches is held against golden_pass() bit for
// bit. It hands each result to a sink as it is made and keeps one row of Y at
// a time, so its memory does not grow with the pass (the vectors do: a
// ResNet-18 layer's are hundreds of MB).
#include <cstdint>
#include <string>

#include "ref/core/config.h"
#include "ref/mapping/mapping.h"
#include "ref/quant/quantizer.h"
#include "ref/workload/lowering.h"

namespace mls {

// Receives the levels in the walk's order: outputs m-major, each output's
// tiles ascending (as every column of the array reduces them), each tile's
// chunks by row slot.
class GoldenLevelSink {
 public:
  virtual ~GoldenLevelSink() = default;
  // Chunk j of output (m, p): its local sum, the overflows on the way, and
  // fp32(sum * S_g^X * S_g^Y).
  virtual void chunk(int64_t m, int64_t p, int64_t j, int64_t sum, uint64_t overflows, float scaled) = 0;
  // The adder tree's output of one chunk-tile.
  virtual void tile(int64_t m, int64_t p, int64_t tile, float value) = 0;
  // The output accumulator after the last tile, and the result times F.
  virtual void output(int64_t m, int64_t p, float accumulator, float result) = 0;
};

// Walks the pass with `map`'s order and returns the accumulator overflows.
// An mls::Error starting with `where` if a result or the overflow count
// disagrees with golden_pass (an internal fault, never the user's).
uint64_t walk_golden_levels(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y,
                            const ArrayConfig& array, const Mapping& map, GoldenLevelSink& sink,
                            const std::string& where);

}  // namespace mls
