#include "ref/golden/golden_conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "ref/core/error.h"
#include "ref/golden/fast_pass.h"

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

// Out[m, p] = acc * F, written where the lowering puts each output; a
// compact result (no out_index: Out[m, p] at m * p + p) is scaled where it is,
// so a large pass never holds acc and its result at once.
GoldenResult finish(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, std::vector<float>&& acc,
                    uint64_t acc_overflow) {
  GoldenResult res;
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  if (lp.out_index.empty() && numel(lp.out_shape) == int64_t(acc.size())) {
    for (float& v : acc) v = v * f;
    res.out.shape = lp.out_shape;
    res.out.data = std::move(acc);
  } else {
    res.out = TensorF(lp.out_shape);
    for (size_t i = 0; i < acc.size(); ++i) res.out.data[size_t(lp.out_at(int64_t(i)))] = acc[i] * f;
  }
  res.acc_overflow = acc_overflow;
  return res;
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
  return finish(lp, x, y, std::move(acc), d.acc_overflow);
}

namespace {

using namespace golden_detail;

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

// The fast walk of one block, with the tensors' bounds.
GoldenResult golden_fast(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const Mapping& map, int64_t slice_elements, const OperandBounds& bounds) {
  FastPass d(lp, x, y, a, map, bounds.scales_in_double_range);
  d.slice_elements = std::max<int64_t>(1, slice_elements);
  const int64_t mx = bounds.max_abs_x, my = bounds.max_abs_y;
  // The largest |partial sum| of any chunk, bounded; exact in __int128
  // (chunk <= 2^16, |sq| < 2^31).
  const __int128 bound = static_cast<__int128>(d.nest.plan.chunk) * mx * my;
  const int64_t hi = (int64_t{1} << (a.acc_bits - 1)) - 1;
  std::vector<float> acc(size_t(lp.m * lp.p), 0.0f);
  // int16 lanes, else double lanes for wider operands, else the per-chunk
  // int32 walk; each with or without the range check.
  const bool int16_ops = bound <= INT32_MAX && mx <= INT16_MAX && my <= INT16_MAX;
  const bool lanes = d.one_tile_order, wide = lanes && bound < (int64_t{1} << 53);
  if (lanes && int16_ops)
    run_int16_lanes(d, bound > hi, acc);
  else if (wide)
    run_wide_lanes(d, bound > hi, acc);
  else
    walk_whole(d, bound, hi, acc);
  return finish(lp, x, y, std::move(acc), d.acc_overflow);
}

}  // namespace

OperandBounds operand_bounds(const QuantTensor& x, const QuantTensor& y) {
  return {max_abs(x.sq), max_abs(y.sq), scales_in_double_range(x, y)};
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const Mapping& map) {
  return golden_fast(lp, x, y, a, map, kSliceElements, operand_bounds(x, y));
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const Mapping& map, int64_t slice_elements) {
  return golden_fast(lp, x, y, a, map, slice_elements, operand_bounds(x, y));
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a) {
  return golden_pass(lp, x, y, a, Mapping::for_pass(a, lp.pass, lp.fill_rows));
}

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a,
                         const OperandBounds& bounds) {
  return golden_fast(lp, x, y, a, Mapping::for_pass(a, lp.pass, lp.fill_rows), kSliceElements, bounds);
}

}  // namespace mls
