#include "ref/golden/fast_pass.h"

namespace mls::golden_detail {

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

void run_wide_lanes(FastPass& d, bool check, std::vector<float>& acc) {
  if (check)
    WideLanes(d).run<true>(acc);
  else
    WideLanes(d).run<false>(acc);
}

}  // namespace mls::golden_detail
