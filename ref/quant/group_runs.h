#pragma once
// A tensor walked group run by group run: the flat range cut into runs of
// contiguous elements whose groups follow from the run's first one, so a walk
// finds each element's group without group_of's divisions. Runs come in flat
// order.
#include <algorithm>
#include <cstdint>

#include "ref/quant/quantizer.h"

namespace mls::quant_detail {

// Elements [begin, end); element i is in group `group + (i - begin) * stride`:
// stride 0, one group (an (i0, i1) pair's elements, a block along the last
// dim), or 1, consecutive groups (a row across the dims after a block axis).
struct GroupRun {
  int64_t begin = 0, end = 0;
  int64_t group = 0;
  int64_t stride = 0;
};

// f(run) for the runs of `layout` over [begin, end), clipped to it.
template <class F>
void for_each_run(const GroupLayout& layout, int64_t begin, int64_t end, F&& f) {
  if (begin >= end) return;
  if (!layout.group.is_block()) {
    const int64_t inner = layout.inner;
    int64_t p = begin / inner;
    int64_t i0 = p / layout.d1, i1 = p % layout.d1;
    for (int64_t at = begin; at < end; ++p) {
      const int64_t run_end = std::min(end, (p + 1) * inner);
      f(GroupRun{at, run_end, layout.group_of_pair(i0, i1), 0});
      at = run_end;
      if (++i1 == layout.d1) i1 = 0, ++i0;
    }
    return;
  }
  const int64_t after = layout.after, along = layout.along, B = layout.group.block_size;
  // Row r = (o, a) is elements [r * after, (r + 1) * after); its block's groups start at (o, block of a, 0).
  int64_t r = begin / after;
  int64_t o = r / along, a = r % along;
  for (int64_t at = begin; at < end;) {
    const int64_t within = a % layout.segment;
    const int64_t block = a / layout.segment * layout.seg_blocks + within / B;
    const int64_t group = (o * layout.nblocks + block) * after;
    if (after == 1) {
      // The rest of the block along the axis is one run of one group.
      const int64_t block_end = a - within + std::min(within / B * B + B, layout.segment);
      const int64_t run_end = std::min(end, o * along + block_end);
      f(GroupRun{at, run_end, group, 0});
      a += run_end - at;
      at = run_end;
    } else {
      const int64_t run_end = std::min(end, (o * along + a + 1) * after);
      f(GroupRun{at, run_end, group + at % after, 1});
      at = run_end;
      ++a;
    }
    if (a == along) a = 0, ++o;
  }
}

}  // namespace mls::quant_detail
