#pragma once
// What travels between the array's blocks on each clock: data plus the control
// tag that marks tile and output boundaries (control travels with the data, so
// no block needs to know the pipeline depth of another).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mls::hw {

struct Tag {
  bool valid = false;
  bool tile_last = false;    // last step of a chunk tile: accumulators hand over
  bool output_last = false;  // last chunk tile of an (m-tile, p): output completes
  int64_t m_tile = 0, p = 0, tile = 0;
};

// Controller -> operand buffers: which (g, k) each row reads this cycle.
struct IssueCmd {
  Tag tag;
  std::vector<uint8_t> row_active;  // [R] row has a chunk with a product this step
  std::vector<int32_t> row_g, row_k;
  int active_cols = 0;              // columns 0..active_cols-1 hold a real m
  bool step0 = false;               // first step of a chunk tile
};

// Operand buffers -> multipliers: element codes (sign | exp | mantissa).
struct Operands {
  Tag tag;
  std::vector<uint8_t> row_active;  // [R]
  int active_cols = 0;
  std::vector<uint32_t> x;          // [R][C]
  std::vector<uint32_t> y;          // [R] broadcast along the row
};

// Multipliers -> local accumulators. The products travel as int32 (narrow)
// when the job's element formats keep every |product| below 2^30 and the
// accumulator is at most 31 bits wide, so that a raw sum (register + product)
// is below 2^31 too (every e2m4 and e3m3 preset): the accumulators then add
// eight PEs per AVX2 instruction instead of four. Otherwise int64.
struct Products {
  static constexpr int64_t kNarrowBound = int64_t{1} << 30;  // |product| below this
  static constexpr int kNarrowAccBits = 31;                   // acc_bits at most this

  Tag tag;
  std::vector<uint8_t> row_active;
  int active_cols = 0;
  bool narrow = false;
  std::vector<int64_t> product;     // [R][C] unless narrow
  std::vector<int32_t> product32;   // [R][C] when narrow
  int64_t at(size_t i) const { return narrow ? product32[i] : product[i]; }
};

// Local accumulators -> group scalers, once per chunk tile.
struct ChunkSums {
  Tag tag;
  std::vector<uint8_t> row_valid;   // [R] row held a chunk in this tile
  int active_cols = 0;
  std::vector<int64_t> sum;         // [R][C]
};

// Group scalers -> adder trees.
struct ScaledSums {
  Tag tag;
  std::vector<uint8_t> row_valid;
  int active_cols = 0;
  std::vector<float> value;         // [R][C]
};

// Adder trees -> output accumulators, and output accumulators -> final scale.
struct ColumnValues {
  Tag tag;
  int active_cols = 0;
  std::vector<float> value;         // [C]
};

}  // namespace mls::hw
