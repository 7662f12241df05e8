#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "ref/golden/fast_pass.h"
#include "ref/golden/kernels/lane_kernels.h"
#include "ref/golden/kernels/row_gather.h"
#include "ref/golden/kernels/tap_variants.h"
#include "ref/golden/kernels/tile_kernels.h"

namespace mls::golden_detail {

// fill_y copies int16 runs into the packed pairs: lo must be the low half.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the packed Y pairs assume a little-endian target");
static_assert(kernels::kLanes == kLanes, "the lane kernels' width is the fast walk's");

// int16 operands: kLanes rows of X side by side, so one chunk of kLanes
// outputs (m .. m + kLanes - 1, one p) is a few pmaddwd over k pairs with no
// horizontal sum (kernels/lane_kernels.h: AVX2, SSE2 or the portable form).

struct LanePass {
  FastPass& d;
  int64_t blocks = 0, pairs = 0;    // m-blocks of kLanes rows; k pairs per row
  std::vector<int64_t> pair_off;    // per chunk: first pair in a row
  std::vector<int16_t> xt, xa;      // [block][pair][lane][2]: x, |x| (xa: lane_nest's check only)
  std::vector<int32_t> xmax_;       // [block][chunk]: largest |x| (the tile kernels' bound)
  std::vector<int32_t> ysum_;       // [p - p0][chunk]: sum |y| of the slice's rows (likewise)
  // [p - p0][pair] of the current p slice: (y_lo, y_hi) packed, |y| likewise;
  // left uninitialised (fill_y writes every word), sized for the largest slice.
  std::unique_ptr<int32_t[]> yp, ya;
  std::vector<double> fxl;          // [block][g][lane]: X row scales (1 past m)
  int64_t p0 = 0;                   // the first p of the slice in yp
  bool with_abs_ = false;          // the |y| pairs (and xmax_, ysum_ or xa) for the range check
  bool tiles_ = false;             // run_tiles (the tile kernels), not lane_nest
  kernels::ChunkSumsFn sums_ = kernels::chunk_sums();
  kernels::TileValuesFn tile_values_ = kernels::tile_values();
  kernels::TreeAddFn tree_add_ = kernels::tree_add();
  kernels::ReplayFn replay_ = kernels::replay();
  std::vector<uint8_t> ok_;         // a partial tile's busy slots
  std::vector<int16_t> row_, abs_row_;  // fill_y's gathered Y row and its magnitudes
  std::vector<int64_t> chunk_src_, chunk_len_;  // per chunk: first slot in a [g][k] row, length
  std::vector<int64_t> chunk_g_, chunk_k0_;     // per chunk: its group and first k (no division per chunk)
  std::vector<int32_t> offsets_;                // gather_y's row of k tap offsets
  std::vector<int32_t> gather_off_, gather_slot_;       // row_gather's offsets [chunk of a group][16], first slots
  std::vector<int32_t> real_off_, real_slot_, real_end_;  // row_gather's room for a row's real taps
  kernels::RowGatherFn row_gather_ = kernels::row_gather();
  // Rows with at most half their taps real: X's plane with only those taps
  // (tap_variants.h), per row of the slice (nullptr: the full plane).
  TapVariants variants_{int64_t{32} << 20};
  std::vector<const TapVariant*> row_variant_;
  std::vector<int32_t> compact_off_;  // a variant row's offsets for row_gather, real taps first
  std::vector<uint16_t> key_;         // a row's real taps per local chunk
  std::vector<int16_t> packed_;     // one row's pairs (2 * pairs int16): pack_row's where not contiguous_
  bool contiguous_ = false;         // every chunk even and in [g][k] order: a row's pairs are the row

  // Y rows begin .. end - 1 into yp (and ya): a slice at a time, so the Y
  // plane never holds much more than slice_elements, whatever p is.
  void fill_y(int64_t begin, int64_t end) {
    p0 = begin;
    if (!yp) {  // the first slice is the largest; row_gather's slack past the last row
      yp.reset(new int32_t[size_t((end - begin) * pairs + kernels::kChunkMax / 2)]);
      if (with_abs_) ya.reset(new int32_t[size_t((end - begin) * pairs)]);
      if (with_abs_) ysum_.resize(size_t((end - begin)) * chunk_len_.size());
    }
    row_variant_.assign(size_t(end - begin), nullptr);
    if (d.lp.y_parts && tiles_ && with_abs_)
      gather_y<true>(begin, end);
    else if (d.lp.y_parts && tiles_)
      gather_y<false>(begin, end);
    else  // lane_nest's chunk_sums also read the |y| pairs
      fill_y_indexed(begin, end);
  }

  // The tile kernels' rows where they separate (lowering.h's SeparableRows):
  // each row's k tap offsets once, then its elements, base + g * step +
  // offset[k], straight into their packed pairs (no g x k index table), by
  // row_gather where chunks have at most kChunkMax elements (a zero tap is
  // not read), else pair by pair. WithAbs: each chunk's sum |y| as well.
  template <bool WithAbs>
  void gather_y(int64_t begin, int64_t end) {
    d.load_y_groups(begin, end);
    const int64_t chunks = int64_t(chunk_len_.size()), per_group = d.nest.plan.per_group;
    const bool vector = d.nest.plan.chunk <= kernels::kChunkMax;
    // Chunks of exactly kChunkMax: the offsets row is row_gather's table (its tail stays -1).
    const bool direct = d.nest.plan.chunk == kernels::kChunkMax;
    if (vector && gather_off_.empty()) row_gather_tables();
    offsets_.resize(size_t(d.lp.k));
    kernels::RowGather rg;
    rg.sq = d.y.sq.data();
    rg.groups = d.lp.g;
    rg.per_group = per_group;
    rg.real_off = real_off_.data();
    rg.real_slot = real_slot_.data();
    rg.real_end = real_end_.data();
    for (int64_t p = begin; p < end; ++p) {
      int32_t* out = &yp[size_t((p - begin) * pairs)];
      int32_t* sums = WithAbs ? &ysum_[size_t((p - begin) * chunks)] : nullptr;
      if (!vector) {
        dense_row<WithAbs>(d.lp.y_parts.offsets(p, offsets_.data()), out, sums);
        continue;
      }
      const RowBase rb = d.lp.y_parts.offsets(p, direct ? gather_off_.data() : offsets_.data());
      for (int64_t c = 0; !direct && c < per_group; ++c)
        std::copy_n(&offsets_[size_t(chunk_k0_[size_t(c)])], chunk_len_[size_t(c)],
                    &gather_off_[size_t(c * kernels::kChunkMax)]);
      const TapVariant* v = row_variant_[size_t(p - begin)] = variants_.of_row(
          gather_off_.data(), d.lp.k, {xt, blocks, pairs, per_group, pair_off, d.slots}, key_.data(), compact_off_.data());
      rg.off = v ? compact_off_.data() : gather_off_.data();
      rg.slot = v ? v->slot.data() : gather_slot_.data();
      rg.group_slots = v ? v->group_slots : 2 * pairs / std::max<int64_t>(1, d.lp.g);
      rg.base = rb.base;
      rg.step = rb.step;
      row_gather_(rg, reinterpret_cast<int16_t*>(out), sums);
    }
  }

  // row_gather's tables: every group's chunks are group 0's; offsets -1 past
  // each chunk's length (and past k).
  void row_gather_tables() {
    const int64_t per_group = d.nest.plan.per_group, room = per_group * kernels::kChunkMax;
    gather_off_.assign(size_t(std::max(room, d.lp.k)), -1);
    for (int64_t c = 0; c < per_group; ++c) gather_slot_.push_back(int32_t(2 * pair_off[size_t(c)]));
    real_off_.resize(size_t(room));
    real_slot_.resize(size_t(room));
    real_end_.resize(size_t(per_group));
    compact_off_.assign(size_t(room), -1);
    key_.resize(size_t(per_group));
  }

  // A row's chunks pair by pair; an odd chunk's last pair gets a zero high half.
  template <bool WithAbs>
  void dense_row(const RowBase& rb, int32_t* out, int32_t* sums) const {
    const int32_t* sq = d.y.sq.data();
    const int32_t* off = offsets_.data();
    for (size_t j = 0; j < chunk_len_.size(); ++j) {
      const int64_t base = rb.base + chunk_g_[j] * rb.step;
      const int32_t* o = off + chunk_k0_[j];
      const int64_t len = chunk_len_[j];
      int32_t sum = 0;
      for (int64_t kk = 0, q = pair_off[j]; kk < len; kk += 2, ++q) {
        const int32_t lo = tap(sq, base, o[kk]), hi = kk + 1 < len ? tap(sq, base, o[kk + 1]) : 0;
        out[q] = pack_pair(lo, hi);
        if constexpr (WithAbs) sum += (lo < 0 ? -lo : lo) + (hi < 0 ? -hi : hi);
      }
      if constexpr (WithAbs) sums[j] = sum;
    }
  }

  static int32_t tap(const int32_t* sq, int64_t base, int32_t offset) { return offset < 0 ? 0 : sq[base + offset]; }
  // (lo, hi) as the kernels read a pair: lo in the low half (little-endian int16 pairs).
  static int32_t pack_pair(int32_t lo, int32_t hi) {
    return int32_t(uint32_t(uint16_t(int16_t(lo))) | uint32_t(uint16_t(int16_t(hi))) << 16);
  }

  // sum |y| of each chunk of the slice's rows, from their |y| pairs (fill_y_indexed).
  void chunk_abs_sums(int64_t begin, int64_t end) {
    const size_t n = chunk_len_.size();
    for (int64_t p = begin; p < end; ++p) {
      const int32_t* a = &ya[size_t((p - begin) * pairs)];
      for (size_t j = 0; j < n; ++j) {
        int32_t sum = 0;
        for (int64_t q = pair_off[j], e = q + (chunk_len_[j] + 1) / 2; q < e; ++q)
          sum += int32_t(uint32_t(a[q]) & 0xFFFF) + int32_t(uint32_t(a[q]) >> 16);
        ysum_[size_t(p - begin) * n + j] = sum;
      }
    }
  }

  // Other rows: the g x k index tables (lowering.h's fill_y_tables). Each row
  // is gathered once into int16 ([g][k], a padding tap 0), then each chunk's
  // run of it copied to its pairs (an odd chunk's last pair keeps a zero high half).
  void fill_y_indexed(int64_t begin, int64_t end) {
    const LoweredPass& lp = d.lp;
    const int64_t gk = lp.g * lp.k;
    d.load_y(begin, end);
    row_.resize(size_t(gk));
    abs_row_.resize(size_t(gk));
    const int32_t* sq = d.y.sq.data();
    int16_t* row = row_.data();
    int16_t* abs_row = abs_row_.data();
    for (int64_t p = begin; p < end; ++p) {
      const int32_t* idx = &d.yt.index[size_t((p - begin) * gk)];
      for (int64_t i = 0; i < gk; ++i) row[i] = idx[i] < 0 ? int16_t(0) : int16_t(sq[idx[i]]);
      pack_row(row_, &yp[size_t((p - begin) * pairs)]);
      if (!with_abs_) continue;
      for (int64_t i = 0; i < gk; ++i) abs_row[i] = row[i] < 0 ? int16_t(-row[i]) : row[i];
      pack_row(abs_row_, &ya[size_t((p - begin) * pairs)]);
    }
    if (with_abs_) chunk_abs_sums(begin, end);
  }

  // A [g][k] int16 row into its chunks' packed pairs: through packed_, whose
  // odd chunks' last high halves stay zero.
  void pack_row(const std::vector<int16_t>& row, int32_t* out) {
    if (!contiguous_) {
      for (size_t j = 0; j < chunk_src_.size(); ++j)
        std::copy_n(&row[size_t(chunk_src_[j])], chunk_len_[j], &packed_[size_t(2 * pair_off[j])]);
    }
    const std::vector<int16_t>& from = contiguous_ ? row : packed_;
    std::memcpy(out, from.data(), size_t(pairs) * 2 * sizeof(int16_t));
  }

  static int16_t element(int32_t index, const QuantTensor& t) {
    return index < 0 ? int16_t(0) : int16_t(t.sq[size_t(index)]);
  }

  // with_abs: also what the per-chunk range check needs: the |y| pairs and,
  // for the tile kernels (tiles), each chunk's largest |x| and sum |y|,
  // else the |x| plane (lane_nest's chunk_sums).
  LanePass(FastPass& fp, bool with_abs, bool tiles) : d(fp), with_abs_(with_abs), tiles_(tiles) {
    const LoweredPass& lp = d.lp;
    const ChunkPlan& plan = d.nest.plan;
    blocks = (lp.m + kLanes - 1) / kLanes;
    pair_off.resize(size_t(plan.total));
    contiguous_ = true;
    for (int64_t j = 0; j < plan.total; ++j) {
      pair_off[size_t(j)] = pairs;
      contiguous_ = contiguous_ && plan.length(j) % 2 == 0 && 2 * pairs == plan.group_of(j) * lp.k + plan.k_begin(j);
      pairs += (plan.length(j) + 1) / 2;
    }
    contiguous_ = contiguous_ && 2 * pairs == lp.g * lp.k;
    for (int64_t j = 0; j < plan.total; ++j) {
      chunk_g_.push_back(plan.group_of(j));
      chunk_k0_.push_back(plan.k_begin(j));
      chunk_src_.push_back(plan.group_of(j) * lp.k + plan.k_begin(j));
      chunk_len_.push_back(plan.length(j));
    }
    packed_.assign(size_t(2 * pairs), 0);
    xt.assign(size_t(blocks * pairs * kLanes * 2), 0);
    if (with_abs && !tiles) xa.assign(xt.size(), 0);
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
    if (!xa.empty())
      for (size_t i = 0; i < xt.size(); ++i) xa[i] = xt[i] < 0 ? int16_t(-xt[i]) : xt[i];
    if (with_abs && tiles) chunk_x_max();
    for (int64_t m = 0; m < lp.m; ++m)
      for (int64_t g = 0; g < lp.g; ++g)
        fxl[size_t(((m / kLanes) * lp.g + g) * kLanes + m % kLanes)] = d.fx[size_t(m * lp.g + g)];
  }

  // Each block's largest |x| over each chunk's pairs, every lane.
  void chunk_x_max() {
    const size_t n = chunk_len_.size();
    xmax_.assign(size_t(blocks) * n, 0);
    for (int64_t b = 0; b < blocks; ++b)
      for (size_t j = 0; j < n; ++j) {
        const int16_t* x = &xt[size_t((b * pairs + pair_off[j]) * kLanes * 2)];
        int32_t m = 0;
        for (int64_t i = 0, e = (chunk_len_[j] + 1) / 2 * kLanes * 2; i < e; ++i) m = std::max(m, std::abs(int32_t(x[i])));
        xmax_[size_t(b) * n + j] = m;
      }
  }

  // The sequential walk of one lane's chunk, for a lane whose sum |x||y|
  // leaves the range: block b's plane xb and row p's pairs yr (the full ones
  // or a variant's), the chunk's first pair q0 and length.
  int64_t checked_lane(const int16_t* xb, int lane, const int32_t* yr, int64_t q0, int64_t len) {
    const int64_t hi = (int64_t{1} << (d.array.acc_bits - 1)) - 1, lo = -hi - 1;
    const int16_t* xl = xb + (q0 * kLanes + lane) * 2;
    const int32_t* yl = yr + q0;
    int64_t sum = 0;
    for (int64_t kk = 0; kk < len; ++kk) {
      const int16_t yv = int16_t(uint16_t(uint32_t(yl[kk / 2]) >> (16 * (kk % 2))));
      const int64_t product = int64_t(xl[(kk / 2) * kLanes * 2 + kk % 2]) * yv;
      // In range: the sum itself, as accumulate() returns it; else accumulate() decides.
      const int64_t next = sum + product;
      sum = next >= lo && next <= hi
                ? next
                : accumulate(sum, product, d.array.acc_bits, d.array.acc_overflow, d.acc_overflow);
    }
    return sum;
  }

  // Sums (and, when Check, sums of |x||y|) of chunk j for the kLanes rows of
  // block b against row p.
  // Returns, when Check, whether some lane's sum |x||y| passes hi.
  template <bool Check>
  bool chunk_sums(int64_t b, int64_t p, int64_t j, int64_t npairs, int32_t hi, int32_t* sum, int32_t* abs_sum) const {
    const int64_t q0 = pair_off[size_t(j)];
    const size_t x0 = size_t((b * pairs + q0) * kLanes * 2), y0 = size_t((p - p0) * pairs + q0);
    return sums_(&xt[x0], Check ? &xa[x0] : nullptr, &yp[y0], Check ? &ya[y0] : nullptr, npairs, hi, sum,
                 Check ? abs_sum : nullptr);
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
            sum[c] = int32_t(checked_lane(&xt[size_t(b * pairs * kLanes * 2)], c, &yp[size_t((p - p0) * pairs)],
                                          pair_off[size_t(ch.j)], ch.len));  // acc_bits < 32 here: fits int32
      scale_lanes(b, p, ch.g, lanes, sum, out);
    };
    lane_nest(d, blocks, slice, [this](int64_t begin, int64_t end) { fill_y(begin, end); }, chunk, acc);
  }

  // The tiles' busy slots for the tile kernels, [tile][slot] (a partial
  // tile's idle slots have npairs 0 and are skipped).
  std::vector<kernels::LaneSlot> tile_slots() const {
    std::vector<kernels::LaneSlot> out(d.slots.size());
    for (size_t i = 0; i < d.slots.size(); ++i) {
      const SlotChunk& ch = d.slots[i];
      if (ch.len > 0) out[i] = {pair_off[size_t(ch.j)], int32_t((ch.len + 1) / 2), ch.g, int32_t(ch.j)};
    }
    return out;
  }

  // The lanes of a tile whose partial sums may leave the range (replay bits):
  // the sequential walk over the slot's pairs (an odd chunk's zero high half
  // adds a zero product; the replay kernel's for acc_bits <= 30, all of a
  // slot's lanes at once) and the same exact scaling.
  void replay_lanes(int64_t b, int64_t p, const kernels::TileOperands& op, const kernels::LaneSlot* slot,
                    const SlotChunk* tile, int rows, int lanes, const uint16_t* replay, float* val) {
    const bool vec = d.array.acc_bits <= kernels::kReplayBitsMax, wrap = d.array.acc_overflow == Overflow::wrap;
    const unsigned mask = (1u << lanes) - 1;
    alignas(32) int32_t sums[kLanes];
    for (int s = 0; s < rows; ++s) {
      unsigned bits = replay[s] & mask;
      if (!bits) continue;
      if (vec) d.acc_overflow += replay_(op, slot[s], uint16_t(bits), d.array.acc_bits, wrap, sums);
      const double* fx = &fxl[size_t((b * d.lp.g + tile[s].g) * kLanes)];
      const double fy = d.fy[size_t((p - p0) * d.lp.g + tile[s].g)];
      for (; bits; bits &= bits - 1) {  // the set lanes, lowest first
        const int c = __builtin_ctz(bits);
        const int64_t sum = vec ? sums[c] : checked_lane(op.x, c, op.y, slot[s].q0, 2 * int64_t(slot[s].npairs));
        val[s * kLanes + c] = static_cast<float>(double(sum) * fx[c] * fy);
      }
    }
  }

  // One output block (b, p) through the tile kernels: every tile of the one
  // order, full ones in one call, partial ones slot by slot; the tree and
  // the tile sums as lane_nest's.
  void tiles_of(int64_t b, int64_t p, const kernels::TileOperands& op, const kernels::LaneSlot* ls, float* val,
                uint16_t* replay, float* tot) {
    const int rows = d.map.tree_slots();
    const int lanes = int(std::min<int64_t>(kLanes, d.lp.m - b * kLanes));
    for (int64_t t : d.tile_order) {
      const SlotChunk* tile = &d.slots[size_t(t * rows)];
      const kernels::LaneSlot* slot = ls + t * rows;
      if (d.full[size_t(t)]) {
        if (tile_values_(op, slot, rows, val, replay)) replay_lanes(b, p, op, slot, tile, rows, lanes, replay, val);
        tree_add_(val, rows, tot);
        continue;
      }
      for (int s = 0; s < rows; ++s) {
        ok_[size_t(s)] = tile[s].len > 0;
        replay[s] = 0;
        if (tile[s].len > 0) tile_values_(op, slot + s, 1, val + s * kLanes, replay + s);
      }
      replay_lanes(b, p, op, slot, tile, rows, lanes, replay, val);
      const float* root = tree_lanes(val, ok_, rows);
      for (int c = 0; c < kLanes; ++c) tot[c] = tot[c] + root[c];
    }
  }

  // The walk through the tile kernels (fast_scale only): Y a slice of p at a
  // time, each block of X rows against each p of the slice.
  template <bool Check>
  void run_tiles(std::vector<float>& acc) {
    const int rows = d.map.tree_slots();
    const LoweredPass& lp = d.lp;
    const int64_t slice = std::max<int64_t>(1, d.slice_elements / std::max<int64_t>(1, pairs));
    const std::vector<kernels::LaneSlot> ls = tile_slots();
    std::vector<float> val(size_t(rows) * kLanes, 0.0f);
    std::vector<uint16_t> replay(size_t(rows), 0);
    ok_.assign(size_t(rows), 0);
    kernels::TileOperands op;
    op.hi = int32_t((int64_t{1} << (d.array.acc_bits - 1)) - 1);  // < 2^31 when Check
    for (int64_t begin = 0; begin < lp.p; begin += slice) {
      const int64_t end = std::min(lp.p, begin + slice);
      fill_y(begin, end);
      for (int64_t b = 0; b < blocks; ++b) {
        const int lanes = int(std::min<int64_t>(kLanes, lp.m - b * kLanes));
        op.narrow = lanes <= 8;
        op.xmax = Check ? &xmax_[size_t(b) * chunk_len_.size()] : nullptr;
        op.fx = &fxl[size_t(b * lp.g * kLanes)];
        for (int64_t p = begin; p < end; ++p) {
          const TapVariant* v = row_variant_[size_t(p - p0)];  // a row with few real taps: its plane and slots
          op.x = v ? &v->xt[size_t(b * v->pairs * kLanes * 2)] : &xt[size_t(b * pairs * kLanes * 2)];
          op.y = &yp[size_t((p - p0) * pairs)];
          op.check = Check;
          op.ysum = Check ? &ysum_[size_t(p - p0) * chunk_len_.size()] : nullptr;
          op.fy = &d.fy[size_t((p - p0) * lp.g)];
          alignas(32) float tot[kLanes] = {};
          tiles_of(b, p, op, v ? v->slots.data() : ls.data(), val.data(), replay.data(), tot);
          for (int c = 0; c < lanes; ++c) acc[size_t((b * kLanes + c) * lp.p + p)] = tot[c];
        }
      }
    }
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

void run_int16_lanes(FastPass& d, bool check, std::vector<float>& acc) {
  if (d.fast_scale && check)
    LanePass(d, true, true).run_tiles<true>(acc);
  else if (d.fast_scale)
    LanePass(d, false, true).run_tiles<false>(acc);
  else if (check)
    LanePass(d, true, false).run<true>(acc);
  else
    LanePass(d, false, false).run<false>(acc);
}

}  // namespace mls::golden_detail
