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

// What each row does in one chunk tile, looked up by the controller once
// per job (one table per tile, stable while the job runs): row r reads
// buffer rows gk0[r], gk0[r] + 1, ... (g * K + k) for len[r] steps, 0 when
// it holds no chunk. A tile's bundles carry a pointer to its table and the
// step, so no stage copies or recomputes R row addresses at every edge.
struct TileRows {
  std::vector<int32_t> len;        // [R] steps the row is active (0: no chunk)
  std::vector<int32_t> g, k0;      // [R] the row's group and first k
  std::vector<int64_t> gk0;        // [R] g * K + k0: its first X buffer row and Y code
  std::vector<uint32_t> active_at; // [steps] rows active at each step
  uint64_t row_steps = 0;          // the sum of active_at: the tile's products per active column
  int32_t steps = 0;               // the tile's length
  // The tile's Y codes as the multipliers decode them (plan_y_runs): rows
  // whose chunks follow each other in the Y row (consecutive chunks, across
  // group boundaries too) form one run, decoded once into values [at, at +
  // len) from Y code gk on; row r's values start at y_at[r] (0 for a row
  // without a chunk). The same for every (m-tile, p), so planned once.
  struct YRun {
    int64_t gk, at, len;
  };
  std::vector<YRun> y_runs;
  std::vector<int64_t> y_at;       // [R]
  int64_t y_len = 0;               // the decoded values in all

  bool active(int r, int32_t step) const { return step < len[size_t(r)]; }
};

// A tile's y_runs, y_at and y_len from its rows' gk0 and len (after the
// controller fills its tables, or a testbench builds one by hand). A
// tile's chunks never overlap, so no code is in two runs.
inline void plan_y_runs(TileRows& t) {
  const size_t rows = t.len.size();
  t.y_runs.clear();
  t.y_at.assign(rows, 0);
  int64_t run_gk = 0, run_at = 0, run_len = 0;  // the run being gathered
  const auto flush = [&] {
    if (run_len) t.y_runs.push_back({run_gk, run_at, run_len});
    run_at += run_len, run_len = 0;
  };
  for (size_t r = 0; r < rows; ++r) {
    const int64_t gk0 = t.gk0[r], len = t.len[r];
    if (len <= 0) continue;
    if (gk0 != run_gk + run_len) flush(), run_gk = gk0;
    t.y_at[r] = run_at + run_len;
    run_len += len;
  }
  flush();
  t.y_len = run_at;
}

// Controller -> operand buffers: which (g, k) each row reads this cycle.
struct IssueCmd {
  Tag tag;
  const TileRows* rows = nullptr;  // the tile's table (valid only with tag.valid)
  int32_t step = 0;                // step within the tile
  int active_cols = 0;             // columns 0..active_cols-1 hold a real m

  bool step0() const { return step == 0; }  // first step of a chunk tile
  bool row_active(int r) const { return rows->active(r, step); }
  int32_t row_g(int r) const { return rows->g[size_t(r)]; }
  int32_t row_k(int r) const { return rows->k0[size_t(r)] + step; }
};

class YRows;  // hw_model/job/layer_job.h

// Operand buffers -> multipliers: the element codes each PE's multiplier sees
// this cycle, as the read's addresses rather than a copy (a 16 x 16 array
// would otherwise copy 256 codes per edge): row r reads X buffer row
// row_gk(r) ([g][k][m], `x_stride` codes per row) from column first_m on,
// and Y's code row_gk(r) of the Y row of p ([g][k]), broadcast along the
// row. The Y rows are generated into a few slots that a later p may take
// over (LayerJob's YRows), so the bundle holds the rows, not a row's address:
// y() asks for the row when it is read.
struct Operands {
  Tag tag;
  const TileRows* rows = nullptr;
  int32_t step = 0;
  int active_cols = 0;
  int64_t first_m = 0;                // the m of column 0
  const uint32_t* x_codes = nullptr;  // the X buffer, [g][k][m]
  int64_t x_stride = 0;               // M: codes per X buffer row
  const YRows* y_rows = nullptr;      // the job's Y rows; the tile's is tag.p

  bool row_active(int r) const { return rows->active(r, step); }
  int64_t row_gk(int r) const { return rows->gk0[size_t(r)] + step; }
  uint32_t y(int r) const;  // (operand_buffer.cpp)
  uint32_t x(int r, int c) const { return x_codes[size_t(row_gk(r) * x_stride + first_m + c)]; }
};

// Multipliers -> local accumulators: the products of a cycle, held as their
// decoded operands: PE (r, c)'s product at step s is x_row(r, s)[c] *
// y(r, s) (operand values sign * mantissa << shift, below 2^27:
// hw_model/datapath/datapath.h). X's come from the X buffer decoded once per
// job (`x_plane`, from column first_m, [g][k] rows of `x_stride`), Y's from
// the tile's Y codes decoded once per tile (`y_values`, row r's from
// y_at[r] on: rows that read one run of the Y row share one decoded run); both
// stay in place for the tile, so the local accumulators multiply and add
// whole rows in one pass and no [R][C] product array is written and read
// back at every edge. product() forms one product as the multiplier's
// datapath does (multiply_values), with its fault. `narrow`: every product
// of the job is below 2^30 in magnitude (every e2m4 and e3m3 preset), so the
// accumulators may add in 32-bit lanes when their width allows
// (AccRegisterFile).
struct Products {
  static constexpr int64_t kNarrowBound = int64_t{1} << 30;  // |product| below this

  Tag tag;
  const TileRows* rows = nullptr;
  int32_t step = 0;
  int active_cols = 0;
  bool narrow = false;
  bool lsb_fault = false;              // PE (0,0)'s product bit 0 stuck at 1 (Fault::mul_lsb)
  const int32_t* x_plane = nullptr;    // decoded X values from column first_m
  int64_t x_stride = 0;
  const int32_t* y_values = nullptr;   // the tile's decoded Y values
  const int64_t* y_at = nullptr;       // [R] where row r's are in y_values

  bool row_active(int r) const { return rows->active(r, step); }
  const int32_t* x_row(int r, int32_t s) const { return x_plane + (rows->gk0[size_t(r)] + s) * x_stride; }
  int32_t y(int r, int32_t s) const { return y_values[size_t(y_at[size_t(r)] + s)]; }
  int64_t product(int r, int c, int32_t s) const {
    const int64_t v = int64_t(uint64_t(int64_t(x_row(r, s)[c])) * uint64_t(int64_t(y(r, s))));
    return lsb_fault && r == 0 && c == 0 ? v | 1 : v;
  }
  int64_t product(int r, int c) const { return product(r, c, step); }
};

// The columns the per-tile blocks (group scalers, adder trees) compute a
// row over: the active ones rounded up to whole 4-lane vectors, within the
// array, so a pass with a few busy columns runs one vector per row instead
// of a scalar tail. The values past the active columns are never read (the
// sums there are the idle columns' registers, 0).
inline int vector_width(int active_cols, int cols) {
  const int whole = (active_cols + 3) & ~3;
  return whole < cols ? whole : cols;
}

// Local accumulators -> group scalers, once per chunk tile.
struct ChunkSums {
  Tag tag;
  std::vector<uint8_t> row_valid;   // [R] row held a chunk in this tile
  int active_cols = 0;
  std::vector<int64_t> sum;         // [R][C]
  int sum_cols = 0;                 // columns of sum that may hold a non-zero value (AccRegisterFile::hand_over)
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
