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

// Operand buffers -> multipliers: the element codes each PE's multiplier sees
// this cycle. X's as an address into the X buffer rather than a copy (a
// 16 x 16 array would otherwise copy 256 codes per edge): row r reads X buffer
// row row_gk[r] ([g][k][m], `x_stride` codes per row) from column first_m on.
// Y's, one per row and broadcast along it, as codes (the Y rows are generated
// into a few slots that a later p may take over: LayerJob's YRows).
struct Operands {
  Tag tag;
  std::vector<uint8_t> row_active;  // [R]
  int active_cols = 0;
  std::vector<int64_t> row_gk;      // [R] g * K + k of the row's element
  int64_t first_m = 0;              // the m of column 0
  const uint32_t* x_codes = nullptr;  // the X buffer, [g][k][m]
  int64_t x_stride = 0;               // M: codes per X buffer row
  std::vector<uint32_t> y;            // [R] the row's Y code

  uint32_t x(int r, int c) const { return x_codes[size_t(row_gk[size_t(r)] * x_stride + first_m + c)]; }
};

// Multipliers -> local accumulators: the products of a cycle, held as their
// decoded operands: row r's products are x_rows[r][c] * y[r] (operand values
// sign * mantissa << shift, below 2^27: hw_model/datapath/datapath.h), so the
// local accumulators multiply and add whole rows in one pass (a fused
// multiply-accumulate over rows decoded once per job) and no [R][C] product
// array is written and read back at every edge. product() forms one product
// as the multiplier's datapath does (multiply_values), with its fault.
// `narrow`: every product of the job is below 2^30 in magnitude (every e2m4
// and e3m3 preset), so the accumulators may add in 32-bit lanes when their
// width allows (AccRegisterFile).
struct Products {
  static constexpr int64_t kNarrowBound = int64_t{1} << 30;  // |product| below this

  Tag tag;
  std::vector<uint8_t> row_active;     // [R]
  int active_cols = 0;
  bool narrow = false;
  bool lsb_fault = false;              // PE (0,0)'s product bit 0 stuck at 1 (Fault::mul_lsb)
  std::vector<const int32_t*> x_rows;  // [R] the row's C decoded X values
  std::vector<int32_t> y;              // [R] the row's decoded Y value

  int64_t product(int r, int c) const {
    const int64_t v = int64_t(uint64_t(int64_t(x_rows[size_t(r)][c])) * uint64_t(int64_t(y[size_t(r)])));
    return lsb_fault && r == 0 && c == 0 ? v | 1 : v;
  }
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
