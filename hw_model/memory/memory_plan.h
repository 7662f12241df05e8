#pragma once
// The host's plan of what the memory system moves for one layer-pass: for
// the X and Y buffers, the sequence of tiles the array's blocks use (in the
// mapping's loop order, consecutive blocks on the same tile merged into one
// demand) and what each demand fetches from DRAM; built before the pass runs,
// like the job (hw_model/job/layer_job.h). It moves no data and does no
// timing: the buffers and the DRAM (tile_buffer.h, dram.h) do, clock by clock.
//
// Tiles: X tile t is the X slab of m-tile t (its columns' elements for every
// (g, k), and their group scales); Y tile p is the Y column of position p
// (every (g, k) element, and its group scales). Padding and zero-insertion taps
// are made by the buffer's address logic and never fetched.
//
// A buffer slot holds one whole tile, padding positions included (the array
// addresses a tile as C x G x K or G x K elements); a limited buffer smaller
// than one slot is refused before anything runs (check_buffers).
//
// Residency: an operand whose distinct elements and scales fit its buffer
// (or an unlimited buffer) is kept: each demand fetches only the elements no
// earlier demand fetched, so the pass reads each tensor element once (the
// compulsory traffic). Otherwise the buffer streams: each demand fetches its
// whole tile (im2col duplicates included: the buffer keeps no row window), and
// the buffer holds two tiles (double buffering: the next is fetched while the
// current is used) when it has room for two, else one.
#include <cstdint>
#include <string>
#include <vector>

#include "hw_model/job/layer_job.h"
#include "ref/core/config.h"
#include "ref/workload/lowering.h"

namespace mls::hw {

struct OperandPlan {
  bool resident = true;
  int slots = 0;                        // tiles held at once when streaming (1 or 2); 0 = unlimited
  uint64_t capacity_bytes = 0;          // 0 = unlimited
  uint64_t slot_bytes = 0;              // one tile's slot
  std::vector<int64_t> tile;            // per demand: the tile it needs
  std::vector<uint64_t> bytes;          // per demand: DRAM bytes it fetches
  std::vector<uint32_t> elements;       // per demand: elements it fetches
  std::vector<uint32_t> scales;         // per demand: group scales it fetches
};

struct MemoryPlan {
  bool ideal = true;               // MemoryConfig::ideal(): no module runs, nothing stalls
  OperandPlan x, y;
  uint64_t out_capacity_bytes = 0;  // 0 = unlimited
  static constexpr int kOutBytes = 4;  // an fp32 output (--out-format fp32, the default)
};

// Throws ConfigError("x_buffer_kb" | "y_buffer_kb" | "out_buffer_kb", ...)
// when a limited buffer cannot hold one tile slot (an output buffer: one
// block's outputs, C fp32 values).
void check_buffers(int64_t m, int64_t g, int64_t k, int cols, const ElemFormat& x_elem, const ScaleFormat& x_scale,
                   const ElemFormat& y_elem, const ScaleFormat& y_scale, const MemoryConfig& mem);
// check_buffers, then the plan.
MemoryPlan make_memory_plan(const LoweredPass& lp, const LayerJob& job, const MemoryConfig& mem);

// Bytes of `elements` elements of `elem_bits` and `scales` scales of
// `scale_bits`, rounded up to whole bytes.
inline uint64_t packed_bytes(uint64_t elements, int elem_bits, uint64_t scales, int scale_bits) {
  return (elements * uint64_t(elem_bits) + scales * uint64_t(scale_bits) + 7) / 8;
}

}  // namespace mls::hw
