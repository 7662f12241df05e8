#include "ref/golden/golden_conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ref/core/error.h"

namespace mls {

int64_t accumulate(int64_t acc, int64_t product, int acc_bits, Overflow policy, uint64_t& overflows) {
  const int64_t hi = (int64_t{1} << (acc_bits - 1)) - 1, lo = -hi - 1;
  const int64_t sum = acc + product;
  if (sum >= lo && sum <= hi) return sum;
  ++overflows;
  if (policy == Overflow::saturate) return sum > hi ? hi : lo;
  const int64_t modulus = int64_t{1} << acc_bits;
  int64_t r = ((sum - lo) % modulus + modulus) % modulus;
  return r + lo;
}

namespace {

// |v| < 2^127 times 2^exp, rounded once to float32. Rounding to 53 bits with
// round-to-odd first keeps the final RNE rounding exact (53 >= 24 + 2).
float round_to_fp32(__int128 v, int exp) {
  const bool neg = v < 0;
  unsigned __int128 mag = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  int shift = 0;
  while ((mag >> shift) >= (static_cast<unsigned __int128>(1) << 53)) ++shift;
  uint64_t kept = static_cast<uint64_t>(mag >> shift);
  if (shift && (mag & ((static_cast<unsigned __int128>(1) << shift) - 1))) kept |= 1;  // sticky, to odd
  const double d = std::ldexp(static_cast<double>(kept), exp + shift);
  const float f = static_cast<float>(d);
  return neg ? -f : f;
}

}  // namespace

float scale_chunk(int64_t chunk_sum, GroupScale x, GroupScale y, const ScaleFormat& x_fmt,
                  const ScaleFormat& y_fmt) {
  const int64_t mx = (int64_t{1} << x_fmt.m) + x.man, my = (int64_t{1} << y_fmt.m) + y.man;
  const __int128 v = static_cast<__int128>(chunk_sum) * mx * my;
  return round_to_fp32(v, x.exp + y.exp - x_fmt.m - y_fmt.m);
}

float tree_reduce(const float* values, const bool* valid, int slots, uint64_t& adds) {
  constexpr int kMaxSlots = 1024;  // rows <= 1024 (MlsConfig::validate)
  if (slots < 1 || slots > kMaxSlots) throw Error("tree_reduce: " + std::to_string(slots) + " slots, not in [1, 1024]");
  float v[kMaxSlots];
  bool ok[kMaxSlots];
  std::copy(values, values + slots, v);
  std::copy(valid, valid + slots, ok);
  for (int n = slots; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i) {
      const bool va = ok[2 * i], vb = ok[2 * i + 1];
      if (va && vb) ++adds;
      v[i] = va && vb ? v[2 * i] + v[2 * i + 1] : (va ? v[2 * i] : v[2 * i + 1]);
      ok[i] = va || vb;
    }
    if (n % 2) {
      v[n / 2] = v[n - 1];
      ok[n / 2] = ok[n - 1];
    }
  }
  return ok[0] ? v[0] : 0.0f;
}

float final_scale_factor(float s_t_x, float s_t_y, const ElemFormat& x, const ElemFormat& y) {
  return static_cast<float>(std::ldexp(double(s_t_x) * double(s_t_y), x.unit_exp() + y.unit_exp()));
}

namespace {

std::vector<int32_t> gather(const std::vector<int32_t>& index, const QuantTensor& t) {
  std::vector<int32_t> out(index.size());
  for (size_t i = 0; i < index.size(); ++i) out[i] = index[i] < 0 ? 0 : t.sq[size_t(index[i])];
  return out;
}

// One layer-pass's operands, gathered once: signed magnitudes in the lowering's
// [m][g][k] and [p][g][k] layouts, a zero for each padding tap. The plain walk
// stores Y whole: it is the yardstick of small test passes.
struct Gathered {
  const LoweredPass& lp;
  const QuantTensor &x, &y;
  const ArrayConfig& array;
  RowTables yt;
  std::vector<int32_t> xs, ys;
  uint64_t acc_overflow = 0;
  std::vector<float> slot;              // the tree's inputs, one per slot
  std::unique_ptr<bool[]> slot_valid;   // tree_reduce takes a plain bool array

  Gathered(const LoweredPass& l, const QuantTensor& qx, const QuantTensor& qy, const ArrayConfig& a, int slots)
      : lp(l), x(qx), y(qy), array(a), yt(y_tables(l)), xs(gather(l.x_index, qx)), ys(gather(yt.index, qy)),
        slot(size_t(slots), 0.0f), slot_valid(new bool[size_t(slots)]) {}
};

// The scaled sum of chunk j of output (m, p): local accumulation in ascending
// k, then one rounding to fp32 with both group scales.
float chunk_value(Gathered& d, const ChunkPlan& plan, int64_t m, int64_t p, int64_t j) {
  const LoweredPass& lp = d.lp;
  const int64_t g = plan.group_of(j), k0 = plan.k_begin(j), len = plan.length(j);
  const int32_t* xv = &d.xs[size_t((m * lp.g + g) * lp.k + k0)];
  const int32_t* yv = &d.ys[size_t((p * lp.g + g) * lp.k + k0)];
  int64_t sum = 0;
  for (int64_t k = 0; k < len; ++k)
    sum = accumulate(sum, int64_t(xv[k]) * yv[k], d.array.acc_bits, d.array.acc_overflow, d.acc_overflow);
  return scale_chunk(sum, d.x.sg[size_t(lp.x_group[size_t(m * lp.g + g)])],
                     d.y.sg[size_t(d.yt.groups[size_t(p * lp.g + g)])], d.x.scale, d.y.scale);
}

// The tree over one chunk tile of output (m, p), slot s holding the chunk the
// mapping deals to it.
float tile_value(Gathered& d, const Mapping& map, const LoopNest& nest, int64_t m, int64_t p, int64_t tile) {
  const int slots = map.tree_slots();
  for (int s = 0; s < slots; ++s) {
    const int64_t j = map.chunk_at(nest, tile, s);
    d.slot_valid[size_t(s)] = j >= 0;
    if (j >= 0) d.slot[size_t(s)] = chunk_value(d, nest.plan, m, p, j);
  }
  uint64_t unused_adds = 0;
  return tree_reduce(d.slot.data(), d.slot_valid.get(), slots, unused_adds);
}

}  // namespace

GoldenResult golden_pass_sequential(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                                    const Mapping& map) {
  Gathered d(lp, x, y, a, map.tree_slots());
  const LoopNest nest = map.loop_nest(lp.m, lp.p, map.chunk_plan(lp.k, lp.g));
  // Walks the mapping's loop nest, so every output adds its tiles in the
  // order the array does; acc[m][p] starts at +0.
  std::vector<float> acc(size_t(lp.m * lp.p), 0.0f);
  TilePos pos;
  for (bool more = !nest.empty(); more; more = map.next_tile(pos, nest))
    for (int c = 0; c < map.active_cols(nest, pos.m_tile); ++c) {
      const int64_t m = map.m_of(pos.m_tile, c);
      float& sum = acc[size_t(m * lp.p + pos.p)];
      sum = sum + tile_value(d, map, nest, m, pos.p, pos.tile);
    }
  GoldenResult res;
  res.out = TensorF(lp.out_shape);
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  for (size_t i = 0; i < acc.size(); ++i) res.out.data[size_t(lp.out_at(int64_t(i)))] = acc[i] * f;
  res.acc_overflow = d.acc_overflow;
  return res;
}

namespace {

// The fast walk. Every output reduces the same chunks, tile by tile in
// ascending order, with the same pairwise tree and fp32 additions as
// golden_pass_sequential; only the integer and scaling work differs, and each
// shortcut is taken only where it is exact:
//  - operands are decoded once per pass into planes of sign * q, 16 X rows
//    side by side as lanes: with every |q| <= 2^15 - 1 and
//    chunk * max|x| * max|y| < 2^31, int16 lanes (LanePass, SSE2); else while
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

int64_t max_abs(const std::vector<int32_t>& v) {
  int64_t m = 0;
  for (int32_t e : v) m = std::max<int64_t>(m, e < 0 ? -int64_t(e) : int64_t(e));
  return m;
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

void row_scales(const std::vector<int32_t>& groups, const QuantTensor& t, std::vector<double>& out) {
  out.resize(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    const GroupScale s = t.sg[size_t(groups[i])];
    // An integer below 2^4 times a normal power of two: exact, as ldexp is.
    const double mant = double((int64_t{1} << t.scale.m) + s.man);
    const int e = s.exp - t.scale.m;
    out[i] = e >= -1022 && e <= 1023 ? mant * pow2_normal(e) : std::ldexp(mant, e);
  }
}

std::vector<double> row_scales(const std::vector<int32_t>& groups, const QuantTensor& t) {
  std::vector<double> out;
  row_scales(groups, t, out);
  return out;
}

// Whether every product of two row_scales and an integer |P| < 2^44 is a
// normal double (so exact): the group exponents stay far from the double range.
bool scales_in_double_range(const QuantTensor& x, const QuantTensor& y) {
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

  FastPass(const LoweredPass& l, const QuantTensor& qx, const QuantTensor& qy, const ArrayConfig& a, const Mapping& m)
      : lp(l), x(qx), y(qy), array(a), map(m), nest(m.loop_nest(l.m, l.p, m.chunk_plan(l.k, l.g))),
        fx(row_scales(l.x_group, qx)), fast_scale(scales_in_double_range(qx, qy)) {
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
const float* tree_lanes(float* v, int n) {
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i)
      for (int c = 0; c < kLanes; ++c) v[i * kLanes + c] = v[2 * i * kLanes + c] + v[(2 * i + 1) * kLanes + c];
    if (n % 2) std::copy(v + (n - 1) * kLanes, v + n * kLanes, v + (n / 2) * kLanes);
  }
  return v;
}

// tree_reduce across the lanes, idle slots passing their partner through.
const float* tree_lanes(float* v, std::vector<uint8_t>& ok, int n) {
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

#ifdef __SSE2__
// int16 operands on x86-64 (SSE2 is part of its base ISA): kLanes rows of X
// side by side, so one chunk of kLanes outputs (m .. m + kLanes - 1, one p) is
// a few pmaddwd over k pairs with no horizontal sum.

struct LanePass {
  FastPass& d;
  int64_t blocks = 0, pairs = 0;    // m-blocks of kLanes rows; k pairs per row
  std::vector<int64_t> pair_off;    // per chunk: first pair in a row
  std::vector<int16_t> xt, xa;      // [block][pair][lane][2]: x, |x|
  std::vector<int32_t> yp, ya;      // [p - p0][pair] of the current p slice: (y_lo, y_hi) packed, |y| likewise
  std::vector<double> fxl;          // [block][g][lane]: X row scales (1 past m)
  int64_t p0 = 0;                   // the first p of the slice in yp
  bool with_abs_ = false;

  // Y rows begin .. end - 1 into yp (and ya): a slice at a time, so the Y
  // plane never holds much more than slice_elements, whatever p is.
  void fill_y(int64_t begin, int64_t end) {
    const LoweredPass& lp = d.lp;
    const ChunkPlan& plan = d.nest.plan;
    p0 = begin;
    d.load_y(begin, end);
    yp.assign(size_t((end - begin) * pairs), 0);
    for (int64_t p = begin; p < end; ++p)
      for (int64_t j = 0; j < plan.total; ++j) {
        const int32_t* idx =
            &d.yt.index[size_t(plan.group_of(j) * lp.k + plan.k_begin(j) + (p - begin) * lp.g * lp.k)];
        const int64_t len = plan.length(j);
        int32_t* out = &yp[size_t((p - begin) * pairs + pair_off[size_t(j)])];
        for (int64_t kk = 0; kk < len; kk += 2, ++out)
          *out = pack(element(idx[kk], d.y), kk + 1 < len ? element(idx[kk + 1], d.y) : int16_t(0));
      }
    if (!with_abs_) return;
    ya.resize(yp.size());
    for (size_t i = 0; i < yp.size(); ++i) {
      const int16_t lo = int16_t(uint16_t(uint32_t(yp[i]))), hi = int16_t(uint16_t(uint32_t(yp[i]) >> 16));
      ya[i] = pack(lo < 0 ? int16_t(-lo) : lo, hi < 0 ? int16_t(-hi) : hi);
    }
  }

  static int16_t element(int32_t index, const QuantTensor& t) {
    return index < 0 ? int16_t(0) : int16_t(t.sq[size_t(index)]);
  }
  // (lo, hi) as one int32, lo in the low half: pmaddwd's pair order.
  static int32_t pack(int16_t lo, int16_t hi) {
    return int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16));
  }

  // with_abs: also the |x| and |y| planes the per-chunk range check needs.
  LanePass(FastPass& fp, bool with_abs) : d(fp), with_abs_(with_abs) {
    const LoweredPass& lp = d.lp;
    const ChunkPlan& plan = d.nest.plan;
    blocks = (lp.m + kLanes - 1) / kLanes;
    pair_off.resize(size_t(plan.total));
    for (int64_t j = 0; j < plan.total; ++j) {
      pair_off[size_t(j)] = pairs;
      pairs += (plan.length(j) + 1) / 2;
    }
    xt.assign(size_t(blocks * pairs * kLanes * 2), 0);
    if (with_abs) xa.assign(xt.size(), 0);
    fxl.assign(size_t(blocks * lp.g * kLanes), 1.0);
    // Row by row, in the index tables' own order.
    for (int64_t m = 0; m < lp.m; ++m) {
      const size_t row = size_t((m / kLanes) * pairs * kLanes * 2 + (m % kLanes) * 2);
      for (int64_t j = 0; j < plan.total; ++j) {
        const int32_t* idx = &lp.x_index[size_t(plan.group_of(j) * lp.k + plan.k_begin(j) + m * lp.g * lp.k)];
        const int64_t len = plan.length(j);
        size_t at = row + size_t(pair_off[size_t(j)] * kLanes * 2);
        for (int64_t kk = 0; kk < len; kk += 2, at += kLanes * 2) {
          xt[at] = element(idx[kk], d.x);
          if (kk + 1 < len) xt[at + 1] = element(idx[kk + 1], d.x);
        }
      }
    }
    if (with_abs)
      for (size_t i = 0; i < xt.size(); ++i) xa[i] = xt[i] < 0 ? int16_t(-xt[i]) : xt[i];
    for (int64_t m = 0; m < lp.m; ++m)
      for (int64_t g = 0; g < lp.g; ++g)
        fxl[size_t(((m / kLanes) * lp.g + g) * kLanes + m % kLanes)] = d.fx[size_t(m * lp.g + g)];
  }

  int16_t x_at(int64_t b, int64_t q, int lane, int e) const {
    return xt[size_t(((b * pairs + q) * kLanes + lane) * 2 + e)];
  }

  // The sequential walk of one lane's chunk, for a lane whose sum |x||y|
  // leaves the range.
  int64_t checked_lane(int64_t b, int lane, int64_t p, int64_t j) {
    const int64_t q0 = pair_off[size_t(j)], len = d.nest.plan.length(j);
    int64_t sum = 0;
    for (int64_t kk = 0; kk < len; ++kk) {
      const int32_t packed = yp[size_t((p - p0) * pairs + q0 + kk / 2)];
      const int16_t yv = int16_t(uint16_t(uint32_t(packed) >> (16 * (kk % 2))));
      sum = accumulate(sum, int64_t(x_at(b, q0 + kk / 2, lane, int(kk % 2))) * yv, d.array.acc_bits,
                       d.array.acc_overflow, d.acc_overflow);
    }
    return sum;
  }

  // Sums (and, when Check, sums of |x||y|) of chunk j for the kLanes rows of
  // block b against row p.
  // Returns, when Check, whether some lane's sum |x||y| passes hi.
  template <bool Check>
  bool chunk_sums(int64_t b, int64_t p, int64_t j, int64_t npairs, int32_t hi, int32_t* sum, int32_t* abs_sum) const {
    const int64_t q0 = pair_off[size_t(j)];
    const __m128i* xv = reinterpret_cast<const __m128i*>(&xt[size_t((b * pairs + q0) * kLanes * 2)]);
    const __m128i* av = Check ? reinterpret_cast<const __m128i*>(xa.data() + (b * pairs + q0) * kLanes * 2) : nullptr;
    const int32_t* yv = &yp[size_t((p - p0) * pairs + q0)];
    const int32_t* yav = Check ? ya.data() + (p - p0) * pairs + q0 : nullptr;
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0, a0 = s0, a1 = s0, a2 = s0, a3 = s0;
    for (int64_t q = 0; q < npairs; ++q, xv += 4) {
      const __m128i y = _mm_set1_epi32(yv[q]);
      s0 = _mm_add_epi32(s0, _mm_madd_epi16(_mm_loadu_si128(xv), y));
      s1 = _mm_add_epi32(s1, _mm_madd_epi16(_mm_loadu_si128(xv + 1), y));
      s2 = _mm_add_epi32(s2, _mm_madd_epi16(_mm_loadu_si128(xv + 2), y));
      s3 = _mm_add_epi32(s3, _mm_madd_epi16(_mm_loadu_si128(xv + 3), y));
      if constexpr (Check) {
        const __m128i ay = _mm_set1_epi32(yav[q]);
        a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_loadu_si128(av), ay));
        a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_loadu_si128(av + 1), ay));
        a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_loadu_si128(av + 2), ay));
        a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_loadu_si128(av + 3), ay));
        av += 4;
      }
    }
    __m128i* out = reinterpret_cast<__m128i*>(sum);
    _mm_storeu_si128(out, s0), _mm_storeu_si128(out + 1, s1), _mm_storeu_si128(out + 2, s2),
        _mm_storeu_si128(out + 3, s3);
    if constexpr (Check) {
      __m128i* aout = reinterpret_cast<__m128i*>(abs_sum);
      _mm_storeu_si128(aout, a0), _mm_storeu_si128(aout + 1, a1), _mm_storeu_si128(aout + 2, a2),
          _mm_storeu_si128(aout + 3, a3);
      const __m128i h = _mm_set1_epi32(hi);
      const __m128i over = _mm_or_si128(_mm_or_si128(_mm_cmpgt_epi32(a0, h), _mm_cmpgt_epi32(a1, h)),
                                        _mm_or_si128(_mm_cmpgt_epi32(a2, h), _mm_cmpgt_epi32(a3, h)));
      return _mm_movemask_epi8(over) != 0;
    }
    return false;
  }

  // Check: some chunk may leave the range; a lane whose sum |x||y| passes hi
  // and whose positive or negative sum leaves it (within) replays the sequential walk.
  template <bool Check>
  void run(std::vector<float>& acc) {
    const int32_t hi = int32_t((int64_t{1} << (d.array.acc_bits - 1)) - 1);  // < 2^31 when Check
    alignas(16) int32_t sum[kLanes], abs_sum[kLanes];
    const int64_t slice = std::max<int64_t>(1, d.slice_elements / std::max<int64_t>(1, pairs));
    const auto chunk = [&](int64_t b, int64_t p, const SlotChunk& ch, int lanes, float* out) {
      if (chunk_sums<Check>(b, p, ch.j, (ch.len + 1) / 2, hi, sum, abs_sum))
        for (int c = 0; c < lanes; ++c)
          if (abs_sum[c] > hi && !within(sum[c], abs_sum[c], hi))
            sum[c] = int32_t(checked_lane(b, c, p, ch.j));  // acc_bits < 32 here: fits int32
      scale_lanes(b, p, ch.g, lanes, sum, out);
    };
    lane_nest(d, blocks, slice, [this](int64_t begin, int64_t end) { fill_y(begin, end); }, chunk, acc);
  }

  void scale_lanes(int64_t b, int64_t p, int32_t g, int lanes, const int32_t* sum, float* out) const {
    if (d.fast_scale) {  // |sum| < 2^31 here, so double(sum) * fx * fy is exact
      const double fy = d.fy[size_t((p - p0) * d.lp.g + g)];
      const double* fx = &fxl[size_t((b * d.lp.g + g) * kLanes)];
      for (int c = 0; c < kLanes; ++c) out[c] = static_cast<float>(double(sum[c]) * fx[c] * fy);
      return;
    }
    for (int c = 0; c < lanes; ++c) out[c] = d.scale(sum[c], b * kLanes + c, p, g);
  }

};
#endif  // __SSE2__

// Wider operands (|q| past int16, or chunk * max|x| * max|y| >= 2^31) while
// chunk * max|x| * max|y| < 2^53: the lanes in double, where every product
// and partial sum is an integer below 2^53, so exact in any lane; plain loops
// the compiler vectorises. X is held transposed per block, [block][g k][lane]
// int32; Y as its [p][g k] rows.
struct WideLanes {
  FastPass& d;
  int64_t blocks = 0, gk = 0;
  std::vector<int32_t> xt, ys;

  int64_t p0 = 0;  // the first p of the slice in ys

  // Y rows begin .. end - 1 into ys, a slice at a time (see LanePass::fill_y).
  void fill_y(int64_t begin, int64_t end) {
    p0 = begin;
    d.load_y(begin, end);
    ys.resize(size_t((end - begin) * gk));
    for (int64_t i = 0; i < (end - begin) * gk; ++i) {
      const int32_t idx = d.yt.index[size_t(i)];
      ys[size_t(i)] = idx < 0 ? 0 : d.y.sq[size_t(idx)];
    }
  }

  explicit WideLanes(FastPass& fp)
      : d(fp), blocks((fp.lp.m + kLanes - 1) / kLanes), gk(fp.lp.g * fp.lp.k) {
    xt.assign(size_t(blocks * gk * kLanes), 0);
    for (int64_t m = 0; m < d.lp.m; ++m) {
      const int32_t* idx = &d.lp.x_index[size_t(m * gk)];
      int32_t* out = &xt[size_t((m / kLanes) * gk * kLanes + m % kLanes)];
      for (int64_t i = 0; i < gk; ++i) out[i * kLanes] = idx[i] < 0 ? 0 : d.x.sq[size_t(idx[i])];
    }
  }

  // The sequential walk of one lane's chunk.
  int64_t checked_lane(int64_t b, int lane, int64_t p, const SlotChunk& ch) {
    const int32_t* x = &xt[size_t((b * gk + ch.off) * kLanes + lane)];
    const int32_t* y = &ys[size_t((p - p0) * gk + ch.off)];
    int64_t sum = 0;
    for (int32_t k = 0; k < ch.len; ++k)
      sum = accumulate(sum, int64_t(x[k * kLanes]) * y[k], d.array.acc_bits, d.array.acc_overflow, d.acc_overflow);
    return sum;
  }

  template <bool Check>
  void run(std::vector<float>& acc) {
    const int64_t hi = (int64_t{1} << (d.array.acc_bits - 1)) - 1;
    const int64_t slice = std::max<int64_t>(1, d.slice_elements / std::max<int64_t>(1, gk));
    const auto chunk = [&](int64_t b, int64_t p, const SlotChunk& ch, int lanes, float* out) {
      double sum[kLanes] = {}, abs_sum[kLanes] = {};
      const int32_t* x = &xt[size_t((b * gk + ch.off) * kLanes)];
      const int32_t* y = &ys[size_t((p - p0) * gk + ch.off)];
      for (int32_t k = 0; k < ch.len; ++k, x += kLanes) {
        const double yv = y[k], ay = std::fabs(yv);
        for (int c = 0; c < kLanes; ++c) {
          const double xv = x[c];
          sum[c] += xv * yv;
          if constexpr (Check) abs_sum[c] += std::fabs(xv) * ay;
        }
      }
      for (int c = 0; c < lanes; ++c) {
        int64_t v = int64_t(sum[c]);
        if constexpr (Check) {
          const int64_t a = int64_t(abs_sum[c]);
          if (a > hi && !within(v, a, hi)) v = checked_lane(b, c, p, ch);
        }
        out[c] = d.scale(v, b * kLanes + c, p, ch.g);
      }
    };
    lane_nest(d, blocks, slice, [this](int64_t begin, int64_t end) { fill_y(begin, end); }, chunk, acc);
  }
};

// The per-chunk int32 walk in the loop nest's own order, which visits every
// p for each m-tile: it takes Y whole. Only operands too wide for the lanes
// (chunk * max|x| * max|y| >= 2^53) come here.
void walk_whole(FastPass& d, __int128 bound, int64_t hi, std::vector<float>& acc) {
  d.load_y(0, d.lp.p);
  const std::vector<int32_t> xs = gather_plane<int32_t>(d.lp.x_index, d.x), ys = gather_plane<int32_t>(d.yt.index, d.y);
  if (bound <= hi)
    d.walk<int32_t, int64_t, 0>(xs, ys, acc);
  else if (bound <= (static_cast<__int128>(1) << 62))
    d.walk<int32_t, int64_t, 1>(xs, ys, acc);
  else
    d.walk<int32_t, int64_t, 2>(xs, ys, acc);
}

}  // namespace

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const Mapping& map) {
  return golden_pass(lp, x, y, a, map, kSliceElements);
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const Mapping& map, int64_t slice_elements) {
  FastPass d(lp, x, y, a, map);
  d.slice_elements = std::max<int64_t>(1, slice_elements);
  const int64_t mx = max_abs(x.sq), my = max_abs(y.sq);
  // The largest |partial sum| of any chunk, bounded; exact in __int128
  // (chunk <= 2^16, |sq| < 2^31).
  const __int128 bound = static_cast<__int128>(d.nest.plan.chunk) * mx * my;
  const int64_t hi = (int64_t{1} << (a.acc_bits - 1)) - 1;
  std::vector<float> acc(size_t(lp.m * lp.p), 0.0f);
  // int16 lanes where SSE2 is (x86-64), else and for wider operands the
  // per-chunk int32 walk; each with or without the range check.
  const bool int16_ops = bound <= INT32_MAX && mx <= INT16_MAX && my <= INT16_MAX;
  const bool lanes = d.one_tile_order, wide = lanes && bound < (int64_t{1} << 53);
#ifdef __SSE2__
  if (lanes && int16_ops && bound <= hi)
    LanePass(d, false).run<false>(acc);
  else if (lanes && int16_ops)
    LanePass(d, true).run<true>(acc);
  else
#endif
      if (wide && bound <= hi)
    WideLanes(d).run<false>(acc);
  else if (wide)
    WideLanes(d).run<true>(acc);
  else
    walk_whole(d, bound, hi, acc);
  GoldenResult res;
  res.out = TensorF(lp.out_shape);
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  for (size_t i = 0; i < acc.size(); ++i) res.out.data[size_t(lp.out_at(int64_t(i)))] = acc[i] * f;
  res.acc_overflow = d.acc_overflow;
  return res;
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a) {
  return golden_pass(lp, x, y, a, Mapping::for_pass(a, lp.pass));
}

}  // namespace mls
