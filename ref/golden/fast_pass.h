#pragma once
// The golden model's fast walk, shared by its translation units: the pass's
// decoded tables (FastPass), the loop nest the lane kernels share
// (lane_nest) and the lane kernels' entry points. Internal to ref/golden.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "ref/golden/golden_conv.h"

namespace mls::golden_detail {

// The fast walk. Every output reduces the same chunks, tile by tile in
// ascending order, with the same pairwise tree and fp32 additions as
// golden_pass_sequential; only the integer and scaling work differs, and each
// shortcut is taken only where it is exact:
//  - operands are decoded once per pass into planes of sign * q, 16 X rows
//    side by side as lanes: with every |q| <= 2^15 - 1 and
//    chunk * max|x| * max|y| < 2^31, int16 lanes (LanePass, kernels/); else while
//    that bound is below 2^53, double lanes holding exact integers
//    (WideLanes); otherwise contiguous [row][g][k] int32 rows, one dot
//    product per chunk (FastPass::walk);
//  - when no partial sum of any chunk can leave the accumulator range
//    (chunk * max|x| * max|y| <= 2^(acc_bits-1) - 1), the saturating or
//    wrapping sum is the exact sum and no addition overflows; otherwise each
//    chunk first bounds its partial sums (its positive and its negative
//    products apart: in the lanes from sum |x||y| and the sum) and replays
//    the sequential accumulate() walk only when one of them leaves the range;
//  - fp32(P * S_gx * S_gy) is one double product and one conversion when the
//    exact value needs at most 53 bits and stays a normal double: the same
//    single RNE rounding scale_chunk makes; otherwise scale_chunk itself.

// One slot of a chunk tile: its chunk's offset in a [g][k] row, length
// (0: the slot idles) and group.
struct SlotChunk {
  int64_t off = 0, j = -1;
  int32_t len = 0, g = 0;
};

constexpr int64_t kFastScaleLimit = int64_t{1} << 44;  // |P| below this: |P * mx * my| < 2^52

// |e| as uint32 (2^31 for INT32_MIN) and the max in uint32: a loop the
// compiler vectorizes (the int64 form did not).
inline int64_t max_abs(const std::vector<int32_t>& v) {
  uint32_t m = 0;
  for (int32_t e : v) {
    const uint32_t a = e < 0 ? 0u - uint32_t(e) : uint32_t(e);
    m = a > m ? a : m;
  }
  return int64_t(m);
}

template <class T>
std::vector<T> gather_plane(const std::vector<int32_t>& index, const QuantTensor& t) {
  std::vector<T> out(index.size());
  for (size_t i = 0; i < index.size(); ++i) out[i] = index[i] < 0 ? T(0) : T(t.sq[size_t(index[i])]);
  return out;
}

// (2^M + man) * 2^(exp - M) of every (row, g) of one operand, exact in double.
// 2^e for e in [-1022, 1023], from its bits: the slices recompute Y's scales,
// and ldexp's call per (row, g) showed in the profile.
inline double pow2_normal(int e) {
  const uint64_t bits = uint64_t(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

inline double row_scale(int32_t group, const QuantTensor& t) {
  const GroupScale s = t.sg[size_t(group)];
  // An integer below 2^4 times a normal power of two: exact, as ldexp is.
  const double mant = double((int64_t{1} << t.scale.m) + s.man);
  const int e = s.exp - t.scale.m;
  return e >= -1022 && e <= 1023 ? mant * pow2_normal(e) : std::ldexp(mant, e);
}

inline void row_scales(const std::vector<int32_t>& groups, const QuantTensor& t, std::vector<double>& out) {
  out.resize(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) out[i] = row_scale(groups[i], t);
}

inline std::vector<double> row_scales(const std::vector<int32_t>& groups, const QuantTensor& t) {
  std::vector<double> out;
  row_scales(groups, t, out);
  return out;
}

// Whether every product of two row_scales and an integer |P| < 2^44 is a
// normal double (so exact): the group exponents stay far from the double range.
inline bool scales_in_double_range(const QuantTensor& x, const QuantTensor& y) {
  auto within = [](const QuantTensor& t) {
    for (const GroupScale& s : t.sg)
      if (s.exp < -400 || s.exp > 400) return false;
    return true;
  };
  return within(x) && within(y);
}

// The pairwise tree of tree_reduce over n busy slots, in place.
inline float tree_full(float* v, int n) {
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i) v[i] = v[2 * i] + v[2 * i + 1];
    if (n % 2) v[n / 2] = v[n - 1];
  }
  return v[0];
}

// Exact sum of a chunk no partial sum of which can leave the range.
template <class T, class Sum>
inline int64_t dot(const T* x, const T* y, int32_t len) {
  Sum s = 0;
  for (int32_t k = 0; k < len; ++k) s += Sum(x[k]) * Sum(y[k]);
  return int64_t(s);
}

// Words of a Y plane slice (int32): the lanes fill Y a slice of p at a time,
// so the golden model's planes stay bounded whatever p is (256 KiB).
constexpr int64_t kSliceElements = int64_t{1} << 16;

struct FastPass {
  const LoweredPass& lp;
  const QuantTensor &x, &y;
  const ArrayConfig& array;
  const Mapping& map;
  LoopNest nest;
  std::vector<SlotChunk> slots;  // chunk_tiles x R
  std::vector<uint8_t> full;     // per chunk tile: every slot busy
  std::vector<double> fx;        // row_scales of X
  // Y's rows y0 .. y0 + rows - 1: the lanes take Y a slice of p at a time.
  int64_t y0 = 0;
  RowTables yt;
  std::vector<double> fy;        // row_scales of the slice
  bool fast_scale = false;
  // The chunk tiles each output adds, in the order the mapping's loop nest
  // adds them, and whether that order is the same for every output (the
  // lanes compute 16 outputs at once, so they need one order for all).
  std::vector<int64_t> tile_order;
  bool one_tile_order = true;
  uint64_t acc_overflow = 0;
  int64_t slice_elements = kSliceElements;  // Y plane words per p slice of the lanes

  FastPass(const LoweredPass& l, const QuantTensor& qx, const QuantTensor& qy, const ArrayConfig& a, const Mapping& m,
           bool scales_in_range)
      : lp(l), x(qx), y(qy), array(a), map(m), nest(m.loop_nest(l.m, l.p, m.chunk_plan(l.k, l.g))),
        fx(row_scales(l.x_group, qx)), fast_scale(scales_in_range) {
    const int rows = map.tree_slots();
    slots.resize(size_t(nest.chunk_tiles * rows));
    full.assign(size_t(nest.chunk_tiles), 1);
    for (int64_t t = 0; t < nest.chunk_tiles; ++t)
      for (int r = 0; r < rows; ++r) {
        const int64_t j = map.chunk_at(nest, t, r);
        SlotChunk& s = slots[size_t(t * rows + r)];
        if (j < 0) {
          full[size_t(t)] = 0;
          continue;
        }
        const int64_t g = nest.plan.group_of(j);
        s.off = g * lp.k + nest.plan.k_begin(j);
        s.len = int32_t(nest.plan.length(j));
        s.g = int32_t(g);
        s.j = j;
      }
    record_tile_order();
  }

  // Walks the loop nest twice: the tiles of output block (m-tile 0, p 0),
  // then every block against them.
  void record_tile_order() {
    TilePos pos;
    for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest))
      if (pos.m_tile == 0 && pos.p == 0) tile_order.push_back(pos.tile);
    std::vector<int64_t> done(size_t(nest.m_tiles * nest.p), 0);
    pos = TilePos{};
    for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest)) {
      int64_t& n = done[size_t(pos.m_tile * nest.p + pos.p)];
      if (n >= int64_t(tile_order.size()) || tile_order[size_t(n)] != pos.tile) one_tile_order = false;
      ++n;
    }
    for (int64_t n : done)
      if (n != int64_t(tile_order.size())) one_tile_order = false;
  }

  // Generates Y's rows begin .. end - 1 (indices, group scales).
  void load_y(int64_t begin, int64_t end) {
    y0 = begin;
    fill_y_tables(lp, begin, end, yt);
    row_scales(yt.groups, y, fy);
  }

  // Only the group scales of Y's rows begin .. end - 1, from the pass's
  // separable parts (the lanes gather the elements themselves). A row whose
  // groups are the previous row's (a forward pass's rows of one image) copies
  // its scales.
  void load_y_groups(int64_t begin, int64_t end) {
    y0 = begin;
    const size_t g = size_t(lp.g);
    yt.groups.resize(size_t(end - begin) * g);
    fy.resize(yt.groups.size());
    for (int64_t r = begin; r < end; ++r) {
      int32_t* groups = &yt.groups[size_t(r - begin) * g];
      double* out = &fy[size_t(r - begin) * g];
      lp.y_parts.groups(r, groups);
      if (r > begin && std::equal(groups, groups + g, groups - g))
        std::copy_n(out - g, g, out);
      else
        for (size_t i = 0; i < g; ++i) out[i] = row_scale(groups[i], y);
    }
  }

  float scale(int64_t sum, int64_t m, int64_t p, int32_t g) const {
    const size_t xi = size_t(m * lp.g + g), yi = size_t((p - y0) * lp.g + g);
    if (fast_scale && sum < kFastScaleLimit && sum > -kFastScaleLimit)
      return static_cast<float>(double(sum) * (fx[xi] * fy[yi]));
    return scale_chunk(sum, x.sg[size_t(lp.x_group[xi])], y.sg[size_t(yt.groups[yi])], x.scale, y.scale);
  }

  // Local accumulation of one chunk where partial sums may leave the range.
  int64_t checked_sum(const int32_t* xv, const int32_t* yv, int32_t len, bool split) {
    const int64_t hi = (int64_t{1} << (array.acc_bits - 1)) - 1, lo = -hi - 1;
    if (split) {
      int64_t pos = 0, neg = 0;
      for (int32_t k = 0; k < len; ++k) {
        const int64_t v = int64_t(xv[k]) * yv[k];
        pos += v > 0 ? v : 0;
        neg += v < 0 ? v : 0;
      }
      if (pos <= hi && neg >= lo) return pos + neg;
    }
    int64_t sum = 0;
    for (int32_t k = 0; k < len; ++k)
      sum = accumulate(sum, int64_t(xv[k]) * yv[k], array.acc_bits, array.acc_overflow, acc_overflow);
    return sum;
  }

  // Mode: 0 no partial sum can overflow; 1 it may (split check first);
  // 2 it may and the split sums could overflow int64 (sequential only).
  template <class T, class Sum, int Mode>
  void walk(const std::vector<T>& xs, const std::vector<T>& ys, std::vector<float>& acc) {
    const int rows = map.tree_slots();
    const int64_t gk = lp.g * lp.k;
    std::vector<float> val(static_cast<size_t>(rows));
    std::unique_ptr<bool[]> ok(new bool[size_t(rows)]);
    TilePos pos;
    for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest)) {
      const SlotChunk* tile = &slots[size_t(pos.tile * rows)];
      const bool all = full[size_t(pos.tile)];
      const T* yr = &ys[size_t(pos.p * gk)];
      for (int c = 0; c < map.active_cols(nest, pos.m_tile); ++c) {
        const int64_t m = map.m_of(pos.m_tile, c);
        const T* xr = &xs[size_t(m * gk)];
        for (int s = 0; s < rows; ++s) {
          const SlotChunk& ch = tile[s];
          ok[size_t(s)] = ch.len > 0;
          if (ch.len == 0) continue;
          int64_t sum;
          if constexpr (Mode == 0) {
            sum = dot<T, Sum>(xr + ch.off, yr + ch.off, ch.len);
          } else {
            sum = checked_sum(xr + ch.off, yr + ch.off, ch.len, Mode == 1);
          }
          val[size_t(s)] = scale(sum, m, pos.p, ch.g);
        }
        uint64_t unused_adds = 0;
        const float t = all ? tree_full(val.data(), rows) : tree_reduce(val.data(), ok.get(), rows, unused_adds);
        float& out = acc[size_t(m * lp.p + pos.p)];
        out = out + t;
      }
    }
  }
};

// Outputs side by side: kLanes rows of X (m .. m + kLanes - 1) against one p,
// so the scaling and the tree run across the lanes. Each output still
// reduces its own chunks, tiles and tree in the documented order; only which
// outputs share a vector differs.
constexpr int kLanes = 16;

// Whether a chunk with sum P and sum |x||y| A keeps every partial sum in
// [-hi - 1, hi]: its positive products add to (A + P) / 2, its negative
// ones to (P - A) / 2, and every partial sum lies between the two.
inline bool within(int64_t sum, int64_t abs_sum, int64_t hi) {
  return abs_sum + sum <= 2 * hi && sum - abs_sum >= -2 * hi - 2;
}

// tree_full across the lanes: each slot row of kLanes values, in place.
inline const float* tree_lanes(float* v, int n) {
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i)
      for (int c = 0; c < kLanes; ++c) v[i * kLanes + c] = v[2 * i * kLanes + c] + v[(2 * i + 1) * kLanes + c];
    if (n % 2) std::copy(v + (n - 1) * kLanes, v + n * kLanes, v + (n / 2) * kLanes);
  }
  return v;
}

// tree_reduce across the lanes, idle slots passing their partner through.
inline const float* tree_lanes(float* v, std::vector<uint8_t>& ok, int n) {
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i) {
      const bool va = ok[size_t(2 * i)], vb = ok[size_t(2 * i + 1)];
      float* dst = v + i * kLanes;
      const float *a = v + 2 * i * kLanes, *bb = v + (2 * i + 1) * kLanes;
      if (va && vb)
        for (int c = 0; c < kLanes; ++c) dst[c] = a[c] + bb[c];
      else
        std::copy(va ? a : bb, (va ? a : bb) + kLanes, dst);
      ok[size_t(i)] = va || vb;
    }
    if (n % 2) {
      std::copy(v + (n - 1) * kLanes, v + n * kLanes, v + (n / 2) * kLanes);
      ok[size_t(n / 2)] = ok[size_t(n - 1)];
    }
  }
  if (!ok[0]) std::fill(v, v + kLanes, 0.0f);
  return v;
}

// The loop nest both lane kinds share (LanePass, WideLanes): Y a slice of p
// at a time (fill_y(begin, end); outputs are independent, so slicing p outside
// the m blocks changes no bit), then for each block b of kLanes X rows and each
// p of the slice, the chunk tiles in the one order every output adds them.
// chunk(b, p, slot, lanes, out) writes the kLanes scaled values of a busy
// slot's chunk; the tree runs across the lanes and each output sums its tiles.
template <class FillY, class Chunk>
void lane_nest(FastPass& d, int64_t blocks, int64_t slice, FillY fill_y, Chunk chunk, std::vector<float>& acc) {
  const LoweredPass& lp = d.lp;
  const int rows = d.map.tree_slots();
  std::vector<float> val(size_t(rows) * kLanes, 0.0f);
  std::vector<uint8_t> ok(static_cast<size_t>(rows));
  for (int64_t begin = 0; begin < lp.p; begin += slice) {
    const int64_t end = std::min(lp.p, begin + slice);
    fill_y(begin, end);
    for (int64_t b = 0; b < blocks; ++b) {
      const int lanes = int(std::min<int64_t>(kLanes, lp.m - b * kLanes));
      for (int64_t p = begin; p < end; ++p) {
        float tot[kLanes] = {};
        for (int64_t t : d.tile_order) {
          const SlotChunk* tile = &d.slots[size_t(t * rows)];
          for (int s = 0; s < rows; ++s) {
            ok[size_t(s)] = tile[s].len > 0;
            if (tile[s].len > 0) chunk(b, p, tile[s], lanes, &val[size_t(s) * kLanes]);
          }
          const float* root = d.full[size_t(t)] ? tree_lanes(val.data(), rows) : tree_lanes(val.data(), ok, rows);
          for (int c = 0; c < kLanes; ++c) tot[c] = tot[c] + root[c];
        }
        for (int c = 0; c < lanes; ++c) acc[size_t((b * kLanes + c) * lp.p + p)] = tot[c];
      }
    }
  }
}

// The lanes over int16 operands (kernels/lanes_int16.cpp, its sums in
// kernels/lane_kernels.cpp) and over exact integers in double
// (kernels/lanes_wide.cpp); `check`: some chunk's partial sums may leave the
// accumulator range.
void run_int16_lanes(FastPass& d, bool check, std::vector<float>& acc);
void run_wide_lanes(FastPass& d, bool check, std::vector<float>& acc);

}  // namespace mls::golden_detail
