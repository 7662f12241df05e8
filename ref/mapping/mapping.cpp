#include "ref/mapping/mapping.h"

#include <iterator>

#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls {

namespace {

// The dataflows, by name; a new one adds its name here and its cases below.
constexpr const char* kDataflowNames[] = {"baseline", "weight-stationary", "output-stationary"};

}  // namespace

Dataflow parse_dataflow(const std::string& text) {
  std::string known;
  for (size_t i = 0; i < std::size(kDataflowNames); ++i) {
    if (text == kDataflowNames[i]) return static_cast<Dataflow>(i);
    known += (i ? "|" : "") + std::string(kDataflowNames[i]);
  }
  throw Error("unknown dataflow " + quoted_excerpt(text) + " (expected " + known + ")");
}

std::string to_string(Dataflow d) { return kDataflowNames[static_cast<int>(d)]; }

ChunkPlan::ChunkPlan(int64_t k_size, int64_t chunk_size, int64_t groups)
    : k(k_size), chunk(chunk_size), per_group((k_size + chunk_size - 1) / chunk_size), total(per_group * groups) {}

Mapping::Mapping(Dataflow dataflow, int rows, int cols, int chunk)
    : dataflow_(dataflow), rows_(rows), cols_(cols), chunk_(chunk) {
  if (rows < 1 || cols < 1 || chunk < 1)
    throw Error("a mapping needs rows, cols and chunk of at least 1, got " + std::to_string(rows) + ", " +
                std::to_string(cols) + ", " + std::to_string(chunk));
}

Mapping Mapping::for_array(const ArrayConfig& a) { return Mapping(a.dataflow, a.rows, a.cols, a.chunk); }

Mapping Mapping::for_pass(const ArrayConfig& a, Pass pass, bool fill) {
  const Mapping m = for_array(a);
  if (fill) return m.fill_rows_balanced();
  return pass == Pass::bwd_weight && a.bwd_weight == BwdWeight::fill_rows ? m.fill_rows() : m;
}

namespace {

// The chunk length in [1, longest] whose chunk tiles take the fewest cycles,
// ceil(g * ceil(k / c) / rows) * c; the longest on a tie.
int64_t balanced_chunk(int64_t k, int64_t g, int64_t rows, int64_t longest) {
  int64_t best = longest, best_cycles = -1;
  for (int64_t c = longest; c >= 1; --c) {
    const int64_t chunks = g * ((k + c - 1) / c);
    const int64_t cycles = (chunks + rows - 1) / rows * c;
    if (best_cycles < 0 || cycles < best_cycles) best = c, best_cycles = cycles;
  }
  return best;
}

}  // namespace

int64_t Mapping::chunk_for(int64_t k, int64_t g) const {
  if (!fill_rows_ || k < 1 || g < 1 || g * ((k + chunk_ - 1) / chunk_) >= rows_) return chunk_;
  if (balanced_) return balanced_chunk(k, g, rows_, std::min<int64_t>(chunk_, k));
  const int64_t per_group = std::max<int64_t>(1, rows_ / g);
  return std::min<int64_t>(chunk_, (k + per_group - 1) / per_group);
}

LoopNest Mapping::loop_nest(int64_t m, int64_t p, const ChunkPlan& plan) const {
  LoopNest nest;
  nest.m = m;
  nest.p = p;
  nest.plan = plan;
  nest.m_tiles = (m + cols_ - 1) / cols_;
  nest.chunk_tiles = (plan.total + rows_ - 1) / rows_;
  return nest;
}

bool Mapping::next_tile(TilePos& pos, const LoopNest& nest) const {
  switch (dataflow_) {
    case Dataflow::baseline: break;
    case Dataflow::weight_stationary:  // m-tile, chunk tile, p
      if (++pos.p < nest.p) return true;
      pos.p = 0;
      if (++pos.tile < nest.chunk_tiles) return true;
      pos.tile = 0;
      if (++pos.m_tile < nest.m_tiles) return true;
      pos.m_tile = 0;
      return false;
    case Dataflow::output_stationary:  // p, m-tile, chunk tile
      if (++pos.tile < nest.chunk_tiles) return true;
      pos.tile = 0;
      if (++pos.m_tile < nest.m_tiles) return true;
      pos.m_tile = 0;
      if (++pos.p < nest.p) return true;
      pos.p = 0;
      return false;
  }
  // baseline: m-tile, p, chunk tile
  if (++pos.tile < nest.chunk_tiles) return true;
  pos.tile = 0;
  if (++pos.p < nest.p) return true;
  pos.p = 0;
  if (++pos.m_tile < nest.m_tiles) return true;
  pos.m_tile = 0;
  return false;
}

int64_t Mapping::chunk_at(const LoopNest& nest, int64_t tile, int row) const {
  const int64_t j = tile * rows_ + row;
  return row < rows_ && j < nest.plan.total ? j : -1;
}

int Mapping::active_cols(const LoopNest& nest, int64_t m_tile) const {
  return int(std::min<int64_t>(cols_, nest.m - m_of(m_tile, 0)));
}

int64_t Mapping::tile_steps(const LoopNest& nest, int64_t tile) const {
  int64_t longest = 0;
  for (int r = 0; r < rows_; ++r) {
    const int64_t j = chunk_at(nest, tile, r);
    if (j >= 0) longest = std::max(longest, nest.plan.length(j));
  }
  return longest;
}

uint64_t Mapping::issue_cycles(const LoopNest& nest) const {
  // Every (m-tile, p) block walks the same chunk tiles.
  uint64_t per_block = 0;
  for (int64_t t = 0; t < nest.chunk_tiles; ++t) per_block += uint64_t(tile_steps(nest, t));
  return per_block * uint64_t(nest.m_tiles) * uint64_t(nest.p);
}

}  // namespace mls
