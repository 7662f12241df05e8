#include "ref/golden/golden_levels.h"

#include <cstring>
#include <memory>
#include <vector>

#include "ref/core/error.h"
#include "ref/golden/golden_conv.h"

namespace mls {

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// One row of Y (its groups and indices), filled from the lowering's generator.
struct YRow {
  std::vector<int32_t> groups, index;
  YRow(const LoweredPass& lp) : groups(size_t(lp.g)), index(size_t(lp.g * lp.k)) {}
  void fill(const LoweredPass& lp, int64_t p) { lp.y_row(p, groups.data(), index.data()); }
};

// What one output's walk shares: the pass, its operands and the order.
struct OutputWalk {
  const LoweredPass& lp;
  const QuantTensor &x, &y;
  const ArrayConfig& array;
  const Mapping& map;
  const LoopNest nest;
  GoldenLevelSink& sink;
  uint64_t overflows = 0;

  // Chunk j of output (m, p), reduced in ascending k: the scaled chunk.
  float chunk(int64_t m, int64_t p, int64_t j, const YRow& yr) {
    const int64_t g = nest.plan.group_of(j), k0 = nest.plan.k_begin(j);
    int64_t sum = 0;
    uint64_t ovf = 0;
    for (int64_t k = k0; k < k0 + nest.plan.length(j); ++k) {
      const int32_t xi = lp.x_index[size_t((m * lp.g + g) * lp.k + k)];
      const int32_t yi = yr.index[size_t(g * lp.k + k)];
      const int64_t prod = xi < 0 || yi < 0 ? 0 : int64_t(x.sq[size_t(xi)]) * y.sq[size_t(yi)];
      sum = accumulate(sum, prod, array.acc_bits, array.acc_overflow, ovf);
    }
    const float scaled = scale_chunk(sum, x.sg[size_t(lp.x_group[size_t(m * lp.g + g)])],
                                     y.sg[size_t(yr.groups[size_t(g)])], x.scale, y.scale);
    overflows += ovf;
    sink.chunk(m, p, j, sum, ovf, scaled);
    return scaled;
  }

  // Every tile of output (m, p) through the tree into the output accumulator.
  float output(int64_t m, int64_t p, const YRow& yr) {
    const int slots = map.tree_slots();
    std::vector<float> slot(size_t(slots), 0.0f);
    std::unique_ptr<bool[]> valid(new bool[size_t(slots)]);
    float acc = 0.0f;
    for (int64_t tile = 0; tile < nest.chunk_tiles; ++tile) {
      for (int s = 0; s < slots; ++s) {
        const int64_t j = map.chunk_at(nest, tile, s);
        valid[size_t(s)] = j >= 0;
        if (j >= 0) slot[size_t(s)] = chunk(m, p, j, yr);
      }
      uint64_t adds = 0;
      const float t = tree_reduce(slot.data(), valid.get(), slots, adds);
      sink.tile(m, p, tile, t);
      acc = acc + t;
    }
    return acc;
  }
};

}  // namespace

uint64_t walk_golden_levels(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y,
                            const ArrayConfig& array, const Mapping& map, GoldenLevelSink& sink,
                            const std::string& where) {
  const GoldenResult reference = golden_pass(lp, x, y, array, map);
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  OutputWalk walk{lp, x, y, array, map, map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g)), sink};
  YRow yr(lp);
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t p = 0; p < lp.p; ++p) {
      yr.fill(lp, p);
      const float acc = walk.output(m, p, yr);
      const float result = acc * f;
      const float expected = reference.out.data[size_t(lp.out_at(m * lp.p + p))];
      if (float_bits(result) != float_bits(expected))
        throw Error(where + ": internal: the level-by-level walk disagrees with golden_pass at m = " +
                    std::to_string(m) + ", p = " + std::to_string(p));
      sink.output(m, p, acc, result);
    }
  if (walk.overflows != reference.acc_overflow)
    throw Error(where + ": internal: the walk counts " + std::to_string(walk.overflows) +
                " accumulator overflows, golden_pass " + std::to_string(reference.acc_overflow));
  return walk.overflows;
}

}  // namespace mls
