#pragma once
// Backward-data of a strided conv2d without zero taps (`--bwd-data decompose`).
//
// The zero-insert lowering (conv2d.cpp) gives every input position (h, w) all
// Kh x Kw taps, most of which fall between the stride's grid of E and stream
// zeros (3 of 4 at stride 2, 255 of 256 at stride 16). A tap kh reaches E only
// when (h + P - kh*D) is a multiple of S, which depends on h mod S alone. So
// the positions split into S_h x S_w phases (h mod S_h, w mod S_w), and each
// phase is a dense sub-convolution of E with the sub-kernel of the taps that
// reach it: one block per (group, phase), with
//   m = Ci/groups, p = (n, h in phase, w in phase), g = Co/groups,
//   k = the phase's taps (kh, kw) in ascending order,
// X = W[co, ci', kh, kw], Y = E[n, co, (h + P - kh*D)/S, (w + P - kw*D)/S]
// (a zero tap only where that falls outside E, as padding does in the
// forward pass). A phase with no tap gets one zero tap, so that its outputs
// are written (as 0). Phases with no position are skipped.
//
// The result is the same sum as zero insertion without its zero products, in
// another order (chunks over the phase's taps): bit-exact against the golden
// model of the same lowering, not bit-identical to zero insertion.
#include <cstdint>

#include "ref/workload/conv2d.h"
#include "ref/workload/lowering.h"

namespace mls {

// Throws mls::Error quoting an unknown name.
BwdData parse_bwd_data(const std::string& text);
std::string to_string(BwdData b);

// True when `kind` is a conv2d with a stride above 1: decompose applies.
bool decomposes(const LayerKind& kind);
// Blocks of the decomposed backward-data pass: groups x the non-empty phases.
int64_t decomposed_blocks(const Conv2d& conv);
// Block `block` (group-major, then phase h, then phase w).
LoweredPass lower_decomposed_bwd_data(const Conv2d& conv, int64_t block, const GroupLayout& x_layout,
                                      const GroupLayout& y_layout);

}  // namespace mls
