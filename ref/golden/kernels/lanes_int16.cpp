#include "ref/golden/fast_pass.h"
#include "ref/golden/kernels/lane_kernels.h"

namespace mls::golden_detail {

static_assert(kernels::kLanes == kLanes, "the lane kernels' width is the fast walk's");

// int16 operands: kLanes rows of X side by side, so one chunk of kLanes
// outputs (m .. m + kLanes - 1, one p) is a few pmaddwd over k pairs with no
// horizontal sum (kernels/lane_kernels.h: AVX2, SSE2 or the portable form).

struct LanePass {
  FastPass& d;
  int64_t blocks = 0, pairs = 0;    // m-blocks of kLanes rows; k pairs per row
  std::vector<int64_t> pair_off;    // per chunk: first pair in a row
  std::vector<int16_t> xt, xa;      // [block][pair][lane][2]: x, |x|
  std::vector<int32_t> yp, ya;      // [p - p0][pair] of the current p slice: (y_lo, y_hi) packed, |y| likewise
  std::vector<double> fxl;          // [block][g][lane]: X row scales (1 past m)
  int64_t p0 = 0;                   // the first p of the slice in yp
  bool with_abs_ = false;
  kernels::ChunkSumsFn sums_ = kernels::chunk_sums();

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

void run_int16_lanes(FastPass& d, bool check, std::vector<float>& acc) {
  if (check)
    LanePass(d, true).run<true>(acc);
  else
    LanePass(d, false).run<false>(acc);
}

}  // namespace mls::golden_detail
