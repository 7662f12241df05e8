// The baseline mapping (ref/mapping/mapping.h) against the wording of
// docs/reference.md#the-modelled-array: chunks cut per group and listed
// group-major, dealt R at a time to the rows, the loop order m-tile, p, chunk
// tile, column c of m-tile t computing m = t * C + c.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <vector>

#include "ref/core/error.h"
#include "ref/mapping/mapping.h"

namespace {

using mls::ChunkPlan;
using mls::Dataflow;
using mls::LoopNest;
using mls::Mapping;
using mls::TilePos;

TEST(ref_mapping, ChunkPlanCutsEachGroupIntoConsecutiveChunks) {
  for (int64_t k : {1, 9, 16, 17, 36})
    for (int64_t chunk : {1, 4, 9, 16})
      for (int64_t groups : {1, 3}) {
        const ChunkPlan plan(k, chunk, groups);
        const int64_t per = (k + chunk - 1) / chunk;
        EXPECT_EQ(plan.per_group, per);
        EXPECT_EQ(plan.total, per * groups);
        for (int64_t j = 0; j < plan.total; ++j) {
          EXPECT_EQ(plan.group_of(j), j / per);
          EXPECT_EQ(plan.k_begin(j), (j % per) * chunk);
          EXPECT_EQ(plan.length(j), std::min(chunk, k - (j % per) * chunk));
        }
      }
}

TEST(ref_mapping, RowsTakeChunksRAtATime) {
  // G = 3 groups of K = 6, chunk 4: chunks {4, 2, 4, 2, 4, 2}; R = 4 rows.
  const Mapping map(Dataflow::baseline, 4, 3, 4);
  const LoopNest nest = map.loop_nest(5, 2, map.chunk_plan(6, 3));
  EXPECT_EQ(nest.m_tiles, 2);
  EXPECT_EQ(nest.chunk_tiles, 2);
  const int64_t want[2][4] = {{0, 1, 2, 3}, {4, 5, -1, -1}};
  for (int t = 0; t < 2; ++t)
    for (int r = 0; r < 4; ++r) EXPECT_EQ(map.chunk_at(nest, t, r), want[t][r]) << "tile " << t << " row " << r;
  EXPECT_EQ(map.tile_steps(nest, 0), 4);
  EXPECT_EQ(map.tile_steps(nest, 1), 4);
  EXPECT_EQ(map.tree_slots(), 4);
  EXPECT_EQ(map.active_cols(nest, 0), 3);
  EXPECT_EQ(map.active_cols(nest, 1), 2);  // m = 3, 4
  EXPECT_EQ(map.m_of(1, 1), 4);
  EXPECT_EQ(map.issue_cycles(nest), 2u * 2u * (4u + 4u));
  EXPECT_EQ(map.cycles(nest, 9), 32u + 9u);
}

TEST(ref_mapping, LoopOrderIsMTileThenPThenChunkTile) {
  const Mapping map(Dataflow::baseline, 2, 2, 3);
  const LoopNest nest = map.loop_nest(3, 2, map.chunk_plan(4, 2));  // 2 m-tiles, 4 chunks: 2 tiles
  std::vector<std::tuple<int64_t, int64_t, int64_t>> seen;
  TilePos pos;
  for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest)) seen.emplace_back(pos.m_tile, pos.p, pos.tile);
  std::vector<std::tuple<int64_t, int64_t, int64_t>> want;
  for (int64_t mt = 0; mt < 2; ++mt)
    for (int64_t p = 0; p < 2; ++p)
      for (int64_t t = 0; t < 2; ++t) want.emplace_back(mt, p, t);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(pos.m_tile, 0);  // wrapped to the first block
}

TEST(ref_mapping, ArrayConfigAndNames) {
  mls::ArrayConfig a;
  a.rows = 8;
  a.cols = 4;
  a.chunk = 9;
  const Mapping map = Mapping::for_array(a);
  EXPECT_EQ(map.dataflow(), Dataflow::baseline);
  EXPECT_EQ(map.rows(), 8);
  EXPECT_EQ(map.cols(), 4);
  EXPECT_EQ(map.chunk(), 9);
  EXPECT_EQ(mls::to_string(map.dataflow()), "baseline");
  EXPECT_EQ(mls::parse_dataflow("baseline"), Dataflow::baseline);
  EXPECT_EQ(mls::parse_dataflow("weight-stationary"), Dataflow::weight_stationary);
  EXPECT_EQ(mls::parse_dataflow("output-stationary"), Dataflow::output_stationary);
  EXPECT_EQ(mls::to_string(Dataflow::weight_stationary), "weight-stationary");
  EXPECT_THROW(mls::parse_dataflow("diagonal"), mls::Error);
  a.dataflow = Dataflow::output_stationary;
  EXPECT_EQ(Mapping::for_array(a).dataflow(), Dataflow::output_stationary);
  EXPECT_THROW(Mapping(Dataflow::baseline, 0, 4, 4), mls::Error);
  EXPECT_TRUE(map.loop_nest(0, 3, map.chunk_plan(9, 1)).empty());
}

// Each dataflow's loop nest, written out as nested loops: next_tile visits the
// same blocks in that order, and the issue cycles do not depend on the order.
TEST(ref_mapping, DataflowLoopOrders) {
  for (Dataflow df : {Dataflow::baseline, Dataflow::weight_stationary, Dataflow::output_stationary}) {
    const Mapping map(df, 2, 2, 3);
    const mls::LoopNest nest = map.loop_nest(5, 4, map.chunk_plan(7, 3));  // 3 m-tiles, 4 p, 9 chunks: 5 tiles
    std::vector<std::array<int64_t, 3>> want;
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < (df == Dataflow::output_stationary ? 3 : df == Dataflow::weight_stationary ? 5 : 4); ++b)
        for (int64_t c = 0; c < (df == Dataflow::weight_stationary ? 4 : 5); ++c) {
          if (df == Dataflow::baseline) want.push_back({a, b, c});           // m-tile, p, tile
          if (df == Dataflow::weight_stationary) want.push_back({a, c, b});  // m-tile, tile, p
        }
    if (df == Dataflow::output_stationary) {
      want.clear();
      for (int64_t p = 0; p < 4; ++p)
        for (int64_t mt = 0; mt < 3; ++mt)
          for (int64_t t = 0; t < 5; ++t) want.push_back({mt, p, t});  // p, m-tile, tile
    }
    std::vector<std::array<int64_t, 3>> got;
    mls::TilePos pos;
    for (bool more = true; more; more = map.next_tile(pos, nest)) got.push_back({pos.m_tile, pos.p, pos.tile});
    EXPECT_EQ(got, want) << mls::to_string(df);
    EXPECT_EQ(map.issue_cycles(nest), Mapping(Dataflow::baseline, 2, 2, 3).issue_cycles(nest));
  }
}

}  // namespace

// Balanced row filling (docs/layers.md#utilisation-under-block-groupings): the
// chunk length with the shortest chunk tiles, ceil(G ceil(K / c) / R) * c, the
// longest on a tie, worked out by hand for each case.
TEST(ref_mapping, BalancedFillRowsChunks) {
  const Mapping map(Dataflow::baseline, 16, 16, 16);
  const Mapping balanced = map.fill_rows_balanced();
  // G = 6 groups of K = 16 (a reduction of 96 under k16): c = 8 -> 12 chunks, 1 tile
  // of 8 cycles; c = 4 -> 24 chunks, 2 tiles of 4 = 8; c = 2 -> 48 chunks, 3 tiles of
  // 2 = 6; c = 1 -> 96 chunks, 6 tiles of 1 = 6: the longest of the shortest is 2.
  EXPECT_EQ(balanced.chunk_for(16, 6), 2);
  // The plain fill-rows rule gives ceil(16 / floor(16 / 6)) = 8 there.
  EXPECT_EQ(map.fill_rows().chunk_for(16, 6), 8);
  // G = 2 groups of K = 32 (a linear fwd over 64 features under k32): c = 4 -> 16
  // chunks, one tile of 4; c = 2 -> 32 chunks, 2 tiles of 2 = 4: tie, the longer: 4.
  EXPECT_EQ(balanced.chunk_for(32, 2), 4);
  // G = 3 groups of K = 16: c = 16 -> 3 chunks, 16 cycles; c = 6 -> 9 chunks, 6;
  // c = 4 -> 12 chunks, 4; c = 3 -> 18 chunks, 2 tiles of 3 = 6; c = 2 -> 24, 2 tiles
  // of 2 = 4; c = 1 -> 48 chunks, 3 tiles of 1 = 3: c = 1.
  EXPECT_EQ(balanced.chunk_for(16, 3), 1);
  // Rows already full (G ceil(K / chunk) >= R): the plain chunk.
  EXPECT_EQ(balanced.chunk_for(16, 16), 16);
  EXPECT_EQ(balanced.chunk_for(64, 8), 16);
  // A block shorter than the chunk: c <= K. G = 1, K = 12: c = 1 -> 12 chunks, 1 tile of 1.
  EXPECT_EQ(balanced.chunk_for(12, 1), 1);
  // Not filling: the chunk whatever the shape.
  EXPECT_EQ(map.chunk_for(16, 6), 16);
  // for_pass fills with the balanced rule when the lowering asks (a block grouping).
  mls::ArrayConfig a;
  EXPECT_EQ(Mapping::for_pass(a, mls::Pass::fwd, true).chunk_for(16, 6), 2);
  EXPECT_EQ(Mapping::for_pass(a, mls::Pass::fwd).chunk_for(16, 6), 16);
}
