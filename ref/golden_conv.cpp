#include "ref/golden_conv.h"

#include <algorithm>
#include <cmath>
#include <memory>

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

float scale_chunk(int64_t chunk_sum, GroupScale x, GroupScale y, const ScaleFormat& fmt) {
  const int64_t mx = (int64_t{1} << fmt.m) + x.man, my = (int64_t{1} << fmt.m) + y.man;
  const __int128 v = static_cast<__int128>(chunk_sum) * mx * my;
  return round_to_fp32(v, x.exp + y.exp - 2 * fmt.m);
}

float tree_reduce(const float* values, const bool* valid, int slots, uint64_t& adds) {
  float v[1024];  // rows <= 1024 (MlsConfig::validate)
  bool ok[1024];
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

}  // namespace

GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& a) {
  GoldenResult res;
  res.out = TensorF(lp.out_shape);
  const std::vector<int32_t> xs = gather(lp.x_index, x), ys = gather(lp.y_index, y);
  const ChunkPlan plan(lp.k, a.chunk, lp.g);
  const float f = final_scale_factor(x.s_t, y.s_t, x.elem, y.elem);
  const int rows = a.rows;
  std::vector<float> slot(size_t(rows), 0.0f);
  std::unique_ptr<bool[]> slot_valid(new bool[size_t(rows)]);
  uint64_t unused_adds = 0;

  for (int64_t m = 0; m < lp.m; ++m) {
    for (int64_t p = 0; p < lp.p; ++p) {
      float acc = 0.0f;
      for (int64_t first = 0; first < plan.total; first += rows) {
        for (int r = 0; r < rows; ++r) {
          const int64_t j = first + r;
          slot_valid[r] = j < plan.total;
          if (!slot_valid[r]) continue;
          const int64_t g = plan.group_of(j), k0 = plan.k_begin(j), len = plan.length(j);
          const int32_t* xv = &xs[size_t((m * lp.g + g) * lp.k + k0)];
          const int32_t* yv = &ys[size_t((p * lp.g + g) * lp.k + k0)];
          int64_t sum = 0;
          for (int64_t k = 0; k < len; ++k)
            sum = accumulate(sum, int64_t(xv[k]) * yv[k], a.acc_bits, a.acc_overflow, res.acc_overflow);
          slot[size_t(r)] = scale_chunk(sum, x.sg[size_t(lp.x_group[size_t(m * lp.g + g)])],
                                        y.sg[size_t(lp.y_group[size_t(p * lp.g + g)])], x.scale);
        }
        acc = acc + tree_reduce(slot.data(), slot_valid.get(), rows, unused_adds);
      }
      res.out.data[size_t(lp.out_index[size_t(m * lp.p + p)])] = acc * f;
    }
  }
  return res;
}

}  // namespace mls
