#pragma once
// The mapping of a grouped product onto the R x C array: the dataflow. One
// value, shared by the four places that must agree on it:
//   - the job builder (hw_model/job/layer_job.cpp): the chunk plan it loads;
//   - the controller (hw_model/array/controller.cpp): the loop nest it issues;
//   - the golden model (ref/golden/golden_conv.cpp): the reduction order it follows;
//   - the analytic cycle formula (docs/reference.md#the-modelled-array).
// It holds no arithmetic, only orders and sizes, so the golden model and the
// SystemC array can share it and still compute their numbers independently.
//
// Every dataflow: column c of m-tile t computes output m = t * C + c; chunks,
// listed group-major, are dealt R at a time to the rows (chunk tile u, row r:
// chunk u * R + r); a tile lasts as long as its longest chunk; each output adds
// its chunk tiles in ascending order, each tile reduced by a pairwise tree
// over R. The dataflows differ in the loop order over the blocks (m-tile, p,
// chunk tile) and in which operand the PEs hold in registers:
//   baseline           m-tile, p, chunk tile   no PE registers (every product reads both buffers)
//   weight-stationary  m-tile, chunk tile, p   each PE holds its X chunk across all p
//   output-stationary  p, m-tile, chunk tile   each row holds its Y chunk across the m-tiles
// The order of a single output's chunk tiles is ascending in all three, so
// the golden reduction order (and every result bit) is the same.
#include <algorithm>
#include <cstdint>
#include <string>

#include "ref/core/config.h"

namespace mls {

// Throws mls::Error quoting an unknown name, listing the known ones.
Dataflow parse_dataflow(const std::string& text);
std::string to_string(Dataflow d);

// Chunking of one group's k-range (docs/reference.md#chunks-and-the-local-accumulator):
// consecutive chunks of `chunk` products, the last taking the remainder;
// chunks listed group-major (chunk j belongs to group j / per_group).
struct ChunkPlan {
  int64_t k = 0, chunk = 0;
  int64_t per_group = 0;  // chunks per group
  int64_t total = 0;      // chunks over all groups

  ChunkPlan(int64_t k_size, int64_t chunk_size, int64_t groups);
  int64_t group_of(int64_t j) const { return j / per_group; }
  int64_t k_begin(int64_t j) const { return (j % per_group) * chunk; }
  int64_t length(int64_t j) const { return std::min(chunk, k - k_begin(j)); }
};

// The loop bounds of one layer-pass under a mapping.
struct LoopNest {
  int64_t m = 0, p = 0;      // outputs: m rows (spread over columns), p positions
  ChunkPlan plan{1, 1, 1};
  int64_t m_tiles = 0;       // ceil(m / C)
  int64_t chunk_tiles = 0;   // ceil(plan.total / R)
  bool empty() const { return m_tiles == 0 || p == 0 || chunk_tiles == 0; }
};

// One block of the loop nest: the array issues it as tile_steps() cycles.
struct TilePos {
  int64_t m_tile = 0, p = 0, tile = 0;
};

class Mapping {
 public:
  // 16 x 16, chunk 16: the ArrayConfig defaults.
  Mapping() : Mapping(Dataflow::baseline, 16, 16, 16) {}
  // Throws mls::Error unless rows, cols and chunk are at least 1.
  Mapping(Dataflow dataflow, int rows, int cols, int chunk);
  // The mapping an array configuration runs (its dataflow, rows, cols, chunk).
  static Mapping for_array(const ArrayConfig& a);
  // The mapping of one pass: for_array, with fill_rows() for backward-weight
  // under BwdWeight::fill_rows, and for any pass whose lowering asks for it
  // (`fill`: LoweredPass::fill_rows, a block grouping).
  static Mapping for_pass(const ArrayConfig& a, Pass pass, bool fill = false);
  // Row filling: when a pass's chunks (g groups of ceil(k / chunk)) leave rows
  // idle in its one chunk tile, its chunks are shortened to
  // min(chunk, ceil(k / max(1, floor(R / g)))), so that up to R chunks fill the
  // rows and the tile is that much shorter (the backward-weight pass of a small
  // batch: g = N). The golden model chunks by the same plan.
  Mapping fill_rows() const {
    Mapping m = *this;
    m.fill_rows_ = true;
    return m;
  }
  // Balanced row filling (block groupings: g groups of B products, g often
  // not dividing R): the chunk c in [1, chunk] with the fewest cycles of
  // chunk tiles, ceil(g * ceil(k / c) / R) * c, the longest such c on a tie
  // (fewest group-scaler operations); used whenever rows would idle.
  Mapping fill_rows_balanced() const {
    Mapping m = fill_rows();
    m.balanced_ = true;
    return m;
  }
  bool fills_rows() const { return fill_rows_; }
  int64_t chunk_for(int64_t k, int64_t g) const;

  Dataflow dataflow() const { return dataflow_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int chunk() const { return chunk_; }

  ChunkPlan chunk_plan(int64_t k, int64_t g) const { return ChunkPlan(k, chunk_for(k, g), g); }
  LoopNest loop_nest(int64_t m, int64_t p, const ChunkPlan& plan) const;

  // Loop order. Moves `pos` to the next block in the dataflow's order
  // (baseline: innermost chunk tile, then p, then m-tile); false after the
  // last one. The first block is TilePos{}.
  bool next_tile(TilePos& pos, const LoopNest& nest) const;
  // Which chunk row `row` reduces in chunk tile `tile`, or -1 when it idles.
  int64_t chunk_at(const LoopNest& nest, int64_t tile, int row) const;
  // Output row m of column `col` in m-tile `m_tile`; columns that would pass
  // nest.m idle (active_cols).
  int64_t m_of(int64_t m_tile, int col) const { return m_tile * cols_ + col; }
  int active_cols(const LoopNest& nest, int64_t m_tile) const;
  // Cycles the array spends issuing one block of chunk tile `tile`: its longest chunk.
  int64_t tile_steps(const LoopNest& nest, int64_t tile) const;

  // Golden reduction order: each output adds its chunk tiles in ascending
  // order (fp32, from +0); a tile is the pairwise tree over tree_slots()
  // slots, slot s holding chunk chunk_at(nest, tile, s) when that is >= 0.
  int tree_slots() const { return rows_; }

  // PE-level reuse: whether the PEs hold X (each PE its chunk of X, across p)
  // or the rows hold Y (each row its chunk of Y, across m-tiles) in registers,
  // so that a block re-reads that operand from its buffer only when the held
  // chunk changes.
  bool holds_x() const { return dataflow_ == Dataflow::weight_stationary; }
  bool holds_y() const { return dataflow_ == Dataflow::output_stationary; }
  // Partial sums of several outputs are open at once (weight-stationary: all
  // p of an m-tile), so the output accumulators keep one per (p, column).
  bool partial_sums_per_p() const { return dataflow_ == Dataflow::weight_stationary; }

  // The analytic cycle formula (docs/reference.md#the-modelled-array):
  // issue_cycles = sum over (m-tile, p, chunk tile) of the tile's steps, and
  // cycles = issue_cycles + pipeline_depth (no stalls are modelled).
  uint64_t issue_cycles(const LoopNest& nest) const;
  uint64_t cycles(const LoopNest& nest, int pipeline_depth) const {
    return issue_cycles(nest) + uint64_t(pipeline_depth);
  }

 private:
  Dataflow dataflow_;
  int rows_, cols_, chunk_;
  bool fill_rows_ = false;
  bool balanced_ = false;
};

}  // namespace mls
