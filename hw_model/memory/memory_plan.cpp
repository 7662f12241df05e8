#include "hw_model/memory/memory_plan.h"

#include <algorithm>
#include <functional>

namespace mls::hw {

namespace {

// One operand's tiles: which element and scale indices each tile touches.
struct TileSource {
  int64_t gk = 0, g = 0;
  int64_t rows_per_tile = 1, rows = 0;
  // Points groups ([g]) and index ([g][k]) at row r's tables: X's stored
  // ones, or Y's generated into scratch (valid until the next call).
  std::function<void(int64_t r, const int32_t*& groups, const int32_t*& index)> row;
  int64_t first_row(int64_t t) const { return t * rows_per_tile; }
  int64_t end_row(int64_t t) const { return std::min(rows, (t + 1) * rows_per_tile); }
};

// Grows v to hold index i, at least doubling it; out of line, as it is rare.
__attribute__((noinline)) void grow_marks(std::vector<uint8_t>& v, int32_t i) {
  v.resize(std::max(size_t(i) + 1, 2 * v.size()), 0);
}

// Grows v, when it must, to hold index i.
inline void grow_to(std::vector<uint8_t>& v, int64_t i) {
  if (size_t(i) >= v.size()) grow_marks(v, int32_t(i));
}

// Marks the n scales `groups` names (-1: none) in `seen`; returns how many
// were not marked before. Grown first, then marked through a local pointer.
uint32_t touch_scales(std::vector<uint8_t>& seen, const int32_t* groups, int64_t n) {
  int32_t top = -1;
  for (int64_t i = 0; i < n; ++i) top = std::max(top, groups[i]);
  if (top < 0) return 0;
  grow_to(seen, top);
  uint8_t* __restrict marks = seen.data();
  uint32_t fresh = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t scale = groups[i];
    if (scale < 0) continue;
    fresh += marks[scale] ^ 1u;
    marks[scale] = 1;
  }
  return fresh;
}

// Marks the n elements index[0..n) (-1: none) in `seen`; adds how many there
// are to `elems` and how many were not marked before to `firsts`. The
// marks' address stays in a register between the rare growths (every Y row
// of a pass comes through here).
void touch_row(std::vector<uint8_t>& seen, const int32_t* index, int64_t n, uint32_t& elems, uint32_t& firsts) {
  uint8_t* marks = seen.data();
  size_t size = seen.size();
  uint32_t count = 0, fresh = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t at = index[i];
    if (at < 0) continue;
    if (size_t(at) >= size) {
      grow_marks(seen, at);
      marks = seen.data(), size = seen.size();
    }
    ++count;
    fresh += marks[at] ^ 1u;
    marks[at] = 1;
  }
  elems += count;
  firsts += fresh;
}

int scale_bits(const ScaleFormat& s) { return s.e + s.m; }

uint64_t slot_bytes(int64_t rows, int64_t g, int64_t k, const ElemFormat& e, const ScaleFormat& s) {
  return packed_bytes(uint64_t(rows * g * k), e.bits(), uint64_t(rows * g), scale_bits(s));
}

void check_slot(uint64_t need, int capacity_kb, const char* param, const std::string& what) {
  if (capacity_kb && uint64_t(capacity_kb) * 1024 < need)
    throw ConfigError(param, "must hold one " + what + " of this layer-pass (" + std::to_string(need) +
                                 " bytes), got " + std::to_string(capacity_kb) + " KiB");
}

// What one operand's demands touch: each tile's whole size (streaming) and
// each demand's first touches (the distinct footprint, resident), in one walk
// of each tile's rows at its first demand: every tile is demanded.
struct Touches {
  std::vector<uint32_t> tile_elems, tile_scales;    // per tile
  std::vector<uint32_t> first_elems, first_scales;  // per demand
  Touches(int64_t tiles, size_t demands)
      : tile_elems(size_t(tiles), 0),
        tile_scales(size_t(tiles), 0),
        first_elems(demands, 0),
        first_scales(demands, 0) {}
};

Touches walk_tiles(const TileSource& src, const std::vector<int64_t>& demand) {
  const int64_t tiles = (src.rows + src.rows_per_tile - 1) / src.rows_per_tile;
  Touches to(tiles, demand.size());
  std::vector<uint8_t> seen_elem, seen_scale, seen_tile(size_t(tiles), 0);
  for (size_t d = 0; d < demand.size(); ++d) {
    const int64_t t = demand[d];
    if (seen_tile[size_t(t)]) continue;
    seen_tile[size_t(t)] = 1;
    to.tile_scales[size_t(t)] = uint32_t((src.end_row(t) - src.first_row(t)) * src.g);
    for (int64_t r = src.first_row(t); r < src.end_row(t); ++r) {
      const int32_t *groups = nullptr, *index = nullptr;
      src.row(r, groups, index);
      touch_row(seen_elem, index, src.gk, to.tile_elems[size_t(t)], to.first_elems[d]);
      to.first_scales[d] += touch_scales(seen_scale, groups, src.g);
    }
  }
  return to;
}

// The same counts for Y's rows from their separable parts (a tile is a row):
// row r's elements are base + g * step + offset[k] over its real offsets,
// every g alike. A sum base + offset seen before had all its g translates
// marked then, so only a new one's translates are looked at: p x k offsets,
// p x g scales and about one mark per element of the tensor, instead of
// generating p x g x k indices. Translates of two sums may still meet, so
// they are marked element by element and the counts are the walk's.
Touches walk_separable(const SeparableRows& parts, int64_t g, int64_t k, int64_t rows,
                       const std::vector<int64_t>& demand) {
  Touches to(rows, demand.size());
  std::vector<uint8_t> seen_sum, seen_elem, seen_scale, seen_row(size_t(rows), 0);
  std::vector<int32_t> offsets(static_cast<size_t>(k)), real(static_cast<size_t>(k)), groups(static_cast<size_t>(g));
  for (size_t d = 0; d < demand.size(); ++d) {
    const int64_t r = demand[d];
    if (seen_row[size_t(r)]) continue;
    seen_row[size_t(r)] = 1;
    const RowBase rb = parts.offsets(r, offsets.data());
    // The row's real offsets, and the marks grown once for its largest
    // index, so that the loops below run on local pointers with no test
    // (a byte store may alias anything, members would be reloaded).
    int64_t n = 0, top = -1;
    for (int64_t i = 0; i < k; ++i)
      if (offsets[size_t(i)] >= 0) real[size_t(n++)] = offsets[size_t(i)], top = std::max<int64_t>(top, offsets[size_t(i)]);
    if (n) {
      grow_to(seen_sum, rb.base + top);
      grow_to(seen_elem, rb.base + top + std::max<int64_t>(0, (g - 1) * rb.step));
    }
    uint8_t* __restrict sums = seen_sum.data();
    uint8_t* __restrict elems = seen_elem.data();
    uint32_t fresh = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t sum = rb.base + real[size_t(i)];
      if (sums[sum]) continue;
      sums[sum] = 1;
      for (int64_t j = 0; j < g; ++j) {
        uint8_t& mark = elems[sum + j * rb.step];
        fresh += mark ^ 1u;
        mark = 1;
      }
    }
    to.tile_elems[size_t(r)] = uint32_t(n * g);
    to.first_elems[d] = fresh;
    to.tile_scales[size_t(r)] = uint32_t(g);
    parts.groups(r, groups.data());
    to.first_scales[d] = touch_scales(seen_scale, groups.data(), g);
  }
  return to;
}

OperandPlan plan_operand(const Touches& to, const std::vector<int64_t>& demand, int elem_bits, int scale_bits,
                         int capacity_kb, uint64_t slot) {
  OperandPlan p;
  p.capacity_bytes = uint64_t(capacity_kb) * 1024;
  p.slot_bytes = slot;
  uint64_t footprint_elems = 0, footprint_scales = 0;
  for (size_t d = 0; d < demand.size(); ++d)
    footprint_elems += to.first_elems[d], footprint_scales += to.first_scales[d];
  p.resident = !p.capacity_bytes ||
               packed_bytes(footprint_elems, elem_bits, footprint_scales, scale_bits) <= p.capacity_bytes;
  p.slots = p.resident ? 0 : (p.capacity_bytes >= 2 * p.slot_bytes ? 2 : 1);
  p.tile = demand;
  p.bytes.resize(demand.size());
  p.elements.resize(demand.size());
  p.scales.resize(demand.size());
  for (size_t d = 0; d < demand.size(); ++d) {
    const int64_t t = demand[d];
    p.elements[d] = p.resident ? to.first_elems[d] : to.tile_elems[size_t(t)];
    p.scales[d] = p.resident ? to.first_scales[d] : to.tile_scales[size_t(t)];
    p.bytes[d] = packed_bytes(p.elements[d], elem_bits, p.scales[d], scale_bits);
  }
  return p;
}

// Y's touches: from the separable parts where the rows separate, else from
// the generated rows.
Touches y_touches(const LoweredPass& lp, const LayerJob& job, const std::vector<int64_t>& demand) {
  // The job's table of the same rows, when it made one (make_layer_job).
  if (lp.y_parts) return walk_separable(job.y_parts ? job.y_parts : lp.y_parts, lp.g, lp.k, lp.p, demand);
  std::vector<int32_t> groups(static_cast<size_t>(lp.g)), index(static_cast<size_t>(lp.g * lp.k));
  const TileSource ys{lp.g * lp.k, lp.g, 1, lp.p, [&](int64_t r, const int32_t*& g, const int32_t*& i) {
                        lp.y_row(r, groups.data(), index.data());
                        g = groups.data(), i = index.data();
                      }};
  return walk_tiles(ys, demand);
}

}  // namespace

void check_buffers(int64_t m, int64_t g, int64_t k, int cols, const ElemFormat& x_elem, const ScaleFormat& x_scale,
                   const ElemFormat& y_elem, const ScaleFormat& y_scale, const MemoryConfig& mem) {
  check_slot(slot_bytes(std::min<int64_t>(m, cols), g, k, x_elem, x_scale), mem.x_buffer_kb, "x_buffer_kb", "X tile");
  check_slot(slot_bytes(1, g, k, y_elem, y_scale), mem.y_buffer_kb, "y_buffer_kb", "Y tile");
  check_slot(uint64_t(cols) * MemoryPlan::kOutBytes, mem.out_buffer_kb, "out_buffer_kb", "block's outputs");
}

MemoryPlan make_memory_plan(const LoweredPass& lp, const LayerJob& job, const MemoryConfig& mem) {
  check_buffers(lp.m, lp.g, lp.k, job.mapping.cols(), job.x_elem, job.x_scale, job.y_elem, job.y_scale, mem);
  MemoryPlan plan;
  plan.ideal = mem.ideal();
  plan.out_capacity_bytes = uint64_t(mem.out_buffer_kb) * 1024;
  const Mapping& map = job.mapping;
  const LoopNest nest = map.loop_nest(lp.m, lp.p, job.plan);
  // The tiles the blocks use, in the mapping's order, consecutive repeats merged.
  std::vector<int64_t> x_demand, y_demand;
  TilePos pos;
  for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest)) {
    if (x_demand.empty() || x_demand.back() != pos.m_tile) x_demand.push_back(pos.m_tile);
    if (y_demand.empty() || y_demand.back() != pos.p) y_demand.push_back(pos.p);
  }
  const int64_t gk = lp.g * lp.k;
  const TileSource xs{gk, lp.g, map.cols(), lp.m, [&lp, gk](int64_t r, const int32_t*& groups, const int32_t*& index) {
                        groups = &lp.x_group[size_t(r * lp.g)];
                        index = &lp.x_index[size_t(r * gk)];
                      }};
  plan.x = plan_operand(walk_tiles(xs, x_demand), x_demand, job.x_elem.bits(), scale_bits(job.x_scale),
                        mem.x_buffer_kb,
                        slot_bytes(std::min<int64_t>(lp.m, map.cols()), lp.g, lp.k, job.x_elem, job.x_scale));
  plan.y = plan_operand(y_touches(lp, job, y_demand), y_demand, job.y_elem.bits(), scale_bits(job.y_scale),
                        mem.y_buffer_kb, slot_bytes(1, lp.g, lp.k, job.y_elem, job.y_scale));
  return plan;
}

}  // namespace mls::hw
