#include "hw_model/memory/memory_plan.h"

#include <algorithm>

namespace mls::hw {

namespace {

// One operand's tiles: which element and scale indices each tile touches.
struct TileSource {
  // Calls f(element_index) for every non-zero tap of tile t, and s(scale_index)
  // for every (row, g) of the tile.
  const std::vector<int32_t>* index;   // [rows][g][k]
  const std::vector<int32_t>* groups;  // [rows][g]
  int64_t gk = 0, g = 0;
  int64_t rows_per_tile = 1, rows = 0;
  int64_t first_row(int64_t t) const { return t * rows_per_tile; }
  int64_t end_row(int64_t t) const { return std::min(rows, (t + 1) * rows_per_tile); }
};

int64_t max_index(const std::vector<int32_t>& v) {
  int64_t hi = -1;
  for (int32_t i : v) hi = std::max<int64_t>(hi, i);
  return hi;
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

OperandPlan plan_operand(const TileSource& src, const std::vector<int64_t>& demand, int elem_bits, int scale_bits,
                         int capacity_kb, uint64_t slot) {
  OperandPlan p;
  p.capacity_bytes = uint64_t(capacity_kb) * 1024;
  p.slot_bytes = slot;
  const int64_t tiles = (src.rows + src.rows_per_tile - 1) / src.rows_per_tile;
  // Whole tiles (streaming) and the distinct footprint (resident).
  std::vector<uint32_t> tile_elems(size_t(tiles), 0), tile_scales(size_t(tiles), 0);
  for (int64_t t = 0; t < tiles; ++t) {
    uint32_t e = 0;
    for (int64_t r = src.first_row(t); r < src.end_row(t); ++r)
      for (int64_t i = 0; i < src.gk; ++i) e += (*src.index)[size_t(r * src.gk + i)] >= 0;
    tile_elems[size_t(t)] = e;
    tile_scales[size_t(t)] = uint32_t((src.end_row(t) - src.first_row(t)) * src.g);
  }
  // First touches in demand order: what a resident buffer fetches.
  std::vector<uint8_t> seen_elem(size_t(max_index(*src.index) + 1), 0), seen_scale(size_t(max_index(*src.groups) + 1), 0);
  std::vector<uint8_t> seen_tile(size_t(tiles), 0);
  std::vector<uint32_t> first_elems(demand.size(), 0), first_scales(demand.size(), 0);
  uint64_t footprint_elems = 0, footprint_scales = 0;
  for (size_t d = 0; d < demand.size(); ++d) {
    const int64_t t = demand[d];
    if (seen_tile[size_t(t)]) continue;
    seen_tile[size_t(t)] = 1;
    for (int64_t r = src.first_row(t); r < src.end_row(t); ++r) {
      for (int64_t i = 0; i < src.gk; ++i) {
        const int32_t e = (*src.index)[size_t(r * src.gk + i)];
        if (e >= 0 && !seen_elem[size_t(e)]) seen_elem[size_t(e)] = 1, ++first_elems[d];
      }
      for (int64_t g = 0; g < src.g; ++g) {
        const int32_t s = (*src.groups)[size_t(r * src.g + g)];
        if (s >= 0 && !seen_scale[size_t(s)]) seen_scale[size_t(s)] = 1, ++first_scales[d];
      }
    }
    footprint_elems += first_elems[d];
    footprint_scales += first_scales[d];
  }
  p.resident = !p.capacity_bytes ||
               packed_bytes(footprint_elems, elem_bits, footprint_scales, scale_bits) <= p.capacity_bytes;
  p.slots = p.resident ? 0 : (p.capacity_bytes >= 2 * p.slot_bytes ? 2 : 1);
  p.tile = demand;
  p.bytes.resize(demand.size());
  p.elements.resize(demand.size());
  p.scales.resize(demand.size());
  for (size_t d = 0; d < demand.size(); ++d) {
    const int64_t t = demand[d];
    p.elements[d] = p.resident ? first_elems[d] : tile_elems[size_t(t)];
    p.scales[d] = p.resident ? first_scales[d] : tile_scales[size_t(t)];
    p.bytes[d] = packed_bytes(p.elements[d], elem_bits, p.scales[d], scale_bits);
  }
  return p;
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
  const TileSource xs{&lp.x_index, &lp.x_group, lp.g * lp.k, lp.g, map.cols(), lp.m};
  const TileSource ys{&lp.y_index, &lp.y_group, lp.g * lp.k, lp.g, 1, lp.p};
  plan.x = plan_operand(xs, x_demand, job.x_elem.bits(), scale_bits(job.x_scale), mem.x_buffer_kb,
                        slot_bytes(std::min<int64_t>(lp.m, map.cols()), lp.g, lp.k, job.x_elem, job.x_scale));
  plan.y = plan_operand(ys, y_demand, job.y_elem.bits(), scale_bits(job.y_scale), mem.y_buffer_kb,
                        slot_bytes(1, lp.g, lp.k, job.y_elem, job.y_scale));
  return plan;
}

}  // namespace mls::hw
