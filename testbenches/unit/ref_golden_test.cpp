// The golden MLS convolution (docs/reference.md#convolution-arithmetic): the lowering of the three passes, the
// result against an exact double evaluation of the same quantized operands,
// the local accumulator's overflow count against a partial-sum walk written
// here from the wording of docs/reference.md, and the exactness of the scaler, tree and final
// scale on hand cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ref/workload/conv2d.h"
#include "ref/golden/golden_conv.h"
#include "ref/workload/lowering.h"
#include "ref/quant/quantizer.h"

namespace {

using mls::ArrayConfig;
using mls::ConvGeometry;
using mls::ConvParams;
using mls::GroupScale;
using mls::Overflow;
using mls::Pass;
using mls::QuantConfig;
using mls::QuantTensor;
using mls::ScaleFormat;
using mls::Shape;
using mls::TensorF;

constexpr double kU24 = 0x1p-24;  // unit roundoff of fp32 round-to-nearest

std::string pass_name(Pass p) { return mls::to_string(p); }

// Random tensor in (-1, 1) with per-(dim0, dim1) gains 2^0 .. 2^-6 and one
// element of magnitude exactly 1, so that S_t = 1 and every dequantized value
// S_t S_g q u (2 + 13 significant bits) is exact in float32.
TensorF make_tensor(const Shape& shape, uint64_t seed) {
  TensorF t(shape);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  std::uniform_int_distribution<int> shift(0, 6);
  const int64_t inner = t.size() / (shape[0] * shape[1]);
  std::vector<int> gains(size_t(shape[0] * shape[1]));
  for (int& g : gains) g = shift(gen);
  for (int64_t i = 0; i < t.size(); ++i) t.data[size_t(i)] = float(std::ldexp(uni(gen), -gains[size_t(i / inner)]));
  t.data[size_t(seed % uint64_t(t.size()))] = (seed % 2) ? 1.0f : -1.0f;
  return t;
}

struct Layer {
  mls::Conv2d conv;  // bound to the tensors' shapes
  ConvGeometry geo;
  QuantTensor w, a, e;
  TensorF wd, ad, ed;  // dequantized (exact, checked)
};

Layer make_layer(int64_t n, int64_t ci, int64_t co, int64_t h, int64_t w, int64_t k, const ConvParams& prm,
                 uint64_t seed, const mls::PerOperand<QuantConfig>& qc) {
  Layer L;
  const TensorF W = make_tensor({co, ci, k, k}, seed), A = make_tensor({n, ci, h, w}, seed + 1);
  const ConvGeometry g0 = mls::conv_geometry(W.shape, A.shape, prm);
  const TensorF E = make_tensor({n, co, g0.ho, g0.wo}, seed + 2);
  L.conv = mls::Conv2d(prm);
  L.conv.bind(W.shape, A.shape, &E.shape);
  L.geo = L.conv.geometry();
  L.w = mls::quantize(W, "L.weight", qc.weight);
  L.a = mls::quantize(A, "L.input", qc.input);
  L.e = mls::quantize(E, "L.grad_output", qc.grad_output);
  L.wd = mls::dequantize(L.w);
  L.ad = mls::dequantize(L.a);
  L.ed = mls::dequantize(L.e);
  // Precondition of the exact comparison: dequantization lost nothing.
  for (const QuantTensor* q : {&L.w, &L.a, &L.e}) {
    const TensorF& d = q == &L.w ? L.wd : q == &L.a ? L.ad : L.ed;
    for (size_t i = 0; i < d.data.size(); ++i) {
      const double exact = double(q->sq[i]) * double(q->s_t) * q->group_scale(q->layout.group_of(int64_t(i))) *
                           std::ldexp(1.0, q->elem.unit_exp());
      EXPECT_EQ(double(d.data[i]), exact) << q->name << " element " << i;
    }
  }
  return L;
}

Layer make_layer(int64_t n, int64_t ci, int64_t co, int64_t h, int64_t w, int64_t k, const ConvParams& prm,
                 uint64_t seed, const QuantConfig& qc) {
  return make_layer(n, ci, co, h, w, k, prm, seed, mls::PerOperand<QuantConfig>::all(qc));
}

const QuantTensor& x_of(const Layer& L, Pass p) { return p == Pass::bwd_weight ? L.e : L.w; }
const QuantTensor& y_of(const Layer& L, Pass p) { return p == Pass::bwd_data ? L.e : L.a; }

// Direct convolution in double, gather form (one output at a time), written
// here from the textbook definitions; `absolute` sums |terms| instead.
std::vector<double> direct_conv(Pass pass, const ConvGeometry& c, const TensorF& W, const TensorF& A,
                                const TensorF& E, bool absolute) {
  const ConvParams& q = c.params;
  auto val = [&](double v) { return absolute ? std::fabs(v) : v; };
  auto Wv = [&](int64_t co, int64_t ci, int64_t kh, int64_t kw) {
    return val(W.data[size_t(((co * c.ci + ci) * c.kh + kh) * c.kw + kw)]);
  };
  auto Av = [&](int64_t n, int64_t ci, int64_t h, int64_t w) {
    return val(A.data[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)]);
  };
  auto Ev = [&](int64_t n, int64_t co, int64_t ho, int64_t wo) {
    return val(E.data[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)]);
  };
  std::vector<double> out;
  if (pass == Pass::fwd) {
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t co = 0; co < c.co; ++co)
        for (int64_t ho = 0; ho < c.ho; ++ho)
          for (int64_t wo = 0; wo < c.wo; ++wo) {
            double s = 0;
            for (int64_t ci = 0; ci < c.ci; ++ci)
              for (int64_t kh = 0; kh < c.kh; ++kh)
                for (int64_t kw = 0; kw < c.kw; ++kw) {
                  const int64_t h = ho * q.stride_h - q.pad_h + kh * q.dil_h, w = wo * q.stride_w - q.pad_w + kw * q.dil_w;
                  if (h >= 0 && h < c.h && w >= 0 && w < c.w) s += Wv(co, ci, kh, kw) * Av(n, ci, h, w);
                }
            out.push_back(s);
          }
  } else if (pass == Pass::bwd_data) {
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t ci = 0; ci < c.ci; ++ci)
        for (int64_t h = 0; h < c.h; ++h)
          for (int64_t w = 0; w < c.w; ++w) {
            double s = 0;
            for (int64_t co = 0; co < c.co; ++co)
              for (int64_t kh = 0; kh < c.kh; ++kh)
                for (int64_t kw = 0; kw < c.kw; ++kw) {
                  const int64_t nh = h + q.pad_h - kh * q.dil_h, nw = w + q.pad_w - kw * q.dil_w;
                  if (nh < 0 || nw < 0 || nh % q.stride_h || nw % q.stride_w) continue;
                  const int64_t ho = nh / q.stride_h, wo = nw / q.stride_w;
                  if (ho < c.ho && wo < c.wo) s += Wv(co, ci, kh, kw) * Ev(n, co, ho, wo);
                }
            out.push_back(s);
          }
  } else {
    for (int64_t co = 0; co < c.co; ++co)
      for (int64_t ci = 0; ci < c.ci; ++ci)
        for (int64_t kh = 0; kh < c.kh; ++kh)
          for (int64_t kw = 0; kw < c.kw; ++kw) {
            double s = 0;
            for (int64_t n = 0; n < c.n; ++n)
              for (int64_t ho = 0; ho < c.ho; ++ho)
                for (int64_t wo = 0; wo < c.wo; ++wo) {
                  const int64_t h = ho * q.stride_h - q.pad_h + kh * q.dil_h, w = wo * q.stride_w - q.pad_w + kw * q.dil_w;
                  if (h >= 0 && h < c.h && w >= 0 && w < c.w) s += Ev(n, co, ho, wo) * Av(n, ci, h, w);
                }
            out.push_back(s);
          }
  }
  return out;
}

Shape natural_shape(Pass pass, const ConvGeometry& c) {
  if (pass == Pass::fwd) return {c.n, c.co, c.ho, c.wo};
  if (pass == Pass::bwd_data) return {c.n, c.ci, c.h, c.w};
  return {c.co, c.ci, c.kh, c.kw};
}

int ceil_log2(int r) {
  int l = 0;
  while ((1 << l) < r) ++l;
  return l;
}

ArrayConfig array(int rows, int chunk, int acc_bits = 62, Overflow ov = Overflow::saturate) {
  ArrayConfig a;
  a.rows = rows;
  a.chunk = chunk;
  a.acc_bits = acc_bits;
  a.acc_overflow = ov;
  return a;
}

// golden_pass against the exact value: |golden - exact| <= (ops + 2) u24 sum|terms|,
// ops = 1 scaler rounding + tree levels + output-accumulator additions; +2 for
// the rounding of F and of the final multiply.
void check_against_exact(const Layer& L, Pass pass, const ArrayConfig& a, const std::string& what) {
  SCOPED_TRACE(what + " " + pass_name(pass) + " rows " + std::to_string(a.rows) + " chunk " + std::to_string(a.chunk));
  const QuantTensor &x = x_of(L, pass), &y = y_of(L, pass);
  const mls::LoweredPass lp = L.conv.lower(pass, x.layout, y.layout);
  const mls::GoldenResult r = mls::golden_pass(lp, x, y, a);
  ASSERT_EQ(r.out.shape, natural_shape(pass, L.geo));
  EXPECT_EQ(r.acc_overflow, 0u);
  const std::vector<double> exact = direct_conv(pass, L.geo, L.wd, L.ad, L.ed, false);
  const std::vector<double> sumabs = direct_conv(pass, L.geo, L.wd, L.ad, L.ed, true);
  // Conv2d::reference (the library's scatter-form yardstick) agrees with ours.
  const std::vector<double> ref = L.conv.reference(pass, L.wd, L.ad, &L.ed);
  ASSERT_EQ(ref.size(), exact.size());
  const int64_t chunks = lp.g * ((lp.k + a.chunk - 1) / a.chunk);
  const int64_t tiles = (chunks + a.rows - 1) / a.rows;
  const double ops = 1 + ceil_log2(a.rows) + double(tiles) + 2;
  int nonzero = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    EXPECT_NEAR(ref[i], exact[i], 1e-12 * sumabs[i]) << "Conv2d::reference, output " << i;
    const double tol = ops * kU24 * sumabs[i] * 1.001;
    EXPECT_NEAR(double(r.out.data[i]), exact[i], tol) << "output " << i << " sum|terms| " << sumabs[i];
    nonzero += exact[i] != 0;
  }
  EXPECT_GT(nonzero, int(exact.size()) / 5);  // 1x1 stride-2 bwd-data reaches only 1/4 of the positions
}

struct GeoCase {
  int k, stride, pad, dil;
  int64_t h;
};

TEST(ref_golden, AllPassesAgreeWithExactDoubleEvaluation) {
  QuantConfig qc;  // defaults: e2m4, e8m1, nc, stochastic
  const GeoCase cases[] = {
      {1, 1, 0, 1, 5}, {1, 1, 1, 1, 5}, {1, 2, 0, 1, 5}, {1, 2, 1, 1, 6}, {3, 1, 0, 1, 6}, {3, 1, 1, 1, 5},
      {3, 2, 0, 1, 6}, {3, 2, 1, 1, 6}, {3, 2, 1, 1, 7}, {3, 1, 2, 2, 6},  // the last: dilation 2
  };
  uint64_t seed = 1000;
  for (const GeoCase& gc : cases) {
    ConvParams prm;
    prm.stride_h = prm.stride_w = gc.stride;
    prm.pad_h = prm.pad_w = gc.pad;
    prm.dil_h = prm.dil_w = gc.dil;
    qc.seed = seed;
    const Layer L = make_layer(2, 3, 4, gc.h, gc.h, gc.k, prm, seed++, qc);
    const std::string what = "k" + std::to_string(gc.k) + " s" + std::to_string(gc.stride) + " p" +
                             std::to_string(gc.pad) + " d" + std::to_string(gc.dil) + " h" + std::to_string(gc.h);
    for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) check_against_exact(L, pass, array(16, 16), what);
  }
}

TEST(ref_golden, OtherGroupingsAndFormatsAgreeWithExactDoubleEvaluation) {
  uint64_t seed = 2000;
  for (mls::Grouping g : {mls::Grouping::n, mls::Grouping::c, mls::Grouping::tensor})
    for (const char* elem : {"e2m4", "e3m3", "e0m4"}) {
      QuantConfig qc;
      qc.group = g;
      qc.elem = mls::parse_elem_format(elem);
      qc.scale = mls::parse_scale_format(g == mls::Grouping::c ? "e8m0" : "e8m1");
      qc.rounding = mls::Rounding::nearest;
      ConvParams prm;
      prm.pad_h = prm.pad_w = 1;
      const Layer L = make_layer(3, 5, 4, 5, 4, 3, prm, seed++, qc);
      for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
        check_against_exact(L, pass, array(4, 5), std::string(elem) + " " + mls::to_string(g));
    }
}

TEST(ref_golden, PerOperandFormatsAgreeWithExactDoubleEvaluation) {
  // W, A and E each in their own element and scale formats: every pass pairs
  // two different ones, and its scaler shifts by each operand's M_g.
  mls::PerOperand<QuantConfig> qc;
  qc.weight.elem = mls::parse_elem_format("e2m4");
  qc.input.elem = mls::parse_elem_format("e3m2");
  qc.grad_output.elem = mls::parse_elem_format("e0m5");
  qc.weight.scale = mls::parse_scale_format("e8m1");
  qc.input.scale = mls::parse_scale_format("e8m0");
  qc.grad_output.scale = mls::parse_scale_format("e6m1");
  ConvParams prm;
  prm.pad_h = prm.pad_w = 1;
  for (int stride : {1, 2}) {
    prm.stride_h = prm.stride_w = stride;
    const Layer L = make_layer(2, 5, 4, 6, 6, 3, prm, 3000 + uint64_t(stride), qc);
    for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
      check_against_exact(L, pass, array(4, 5), "per-operand stride " + std::to_string(stride));
  }
}

TEST(ref_golden, ChunkAndRowChoicesStayWithinTheSameTolerance) {
  QuantConfig qc;
  ConvParams prm;
  prm.pad_h = prm.pad_w = 1;
  const Layer L = make_layer(2, 5, 3, 6, 6, 3, prm, 3000, qc);
  for (int chunk : {1, 4, 9, 16})
    for (int rows : {1, 3, 16})
      for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
        check_against_exact(L, pass, array(rows, chunk), "chunk/rows");
}

TEST(ref_golden, LoweringSizesShapesAndTapCounts) {
  QuantConfig qc;
  const GeoCase cases[] = {{1, 1, 0, 1, 5}, {3, 1, 1, 1, 5}, {3, 2, 1, 1, 6}, {3, 2, 0, 1, 7}, {3, 1, 2, 2, 6}};
  uint64_t seed = 4000;
  for (const GeoCase& gc : cases) {
    ConvParams prm;
    prm.stride_h = prm.stride_w = gc.stride;
    prm.pad_h = prm.pad_w = gc.pad;
    prm.dil_h = prm.dil_w = gc.dil;
    const Layer L = make_layer(2, 3, 4, gc.h, gc.h, gc.k, prm, seed++, qc);
    const ConvGeometry& c = L.geo;
    // Ho from the formula of docs/reference.md (with dilation: effective kernel D (K - 1) + 1).
    EXPECT_EQ(c.ho, (gc.h + 2 * gc.pad - (gc.dil * (gc.k - 1) + 1)) / gc.stride + 1);
    // In-range forward taps (n, ho, wo, kh, kw), counted directly.
    int64_t in_range = 0;
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t ho = 0; ho < c.ho; ++ho)
        for (int64_t wo = 0; wo < c.wo; ++wo)
          for (int64_t kh = 0; kh < c.kh; ++kh)
            for (int64_t kw = 0; kw < c.kw; ++kw) {
              const int64_t h = ho * gc.stride - gc.pad + kh * gc.dil, w = wo * gc.stride - gc.pad + kw * gc.dil;
              in_range += h >= 0 && h < c.h && w >= 0 && w < c.w;
            }
    for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) {
      SCOPED_TRACE(pass_name(pass) + " k" + std::to_string(gc.k) + " s" + std::to_string(gc.stride));
      const mls::LoweredPass lp = L.conv.lower(pass, x_of(L, pass).layout, y_of(L, pass).layout);
      const mls::RowTables yt = mls::y_tables(lp);
      int64_t m, p, g, k, real;
      if (pass == Pass::fwd) m = c.co, p = c.n * c.ho * c.wo, g = c.ci, k = c.kh * c.kw, real = in_range * c.ci;
      else if (pass == Pass::bwd_data) m = c.ci, p = c.n * c.h * c.w, g = c.co, k = c.kh * c.kw, real = in_range * c.co;
      else m = c.co, p = c.ci * c.kh * c.kw, g = c.n, k = c.ho * c.wo, real = in_range * c.ci;
      EXPECT_EQ(lp.m, m);
      EXPECT_EQ(lp.p, p);
      EXPECT_EQ(lp.g, g);
      EXPECT_EQ(lp.k, k);
      // Every tap, padding and zero insertion included, is streamed.
      const int64_t taps = pass == Pass::bwd_data ? c.n * c.ci * c.h * c.w * c.co * c.kh * c.kw
                                                  : c.n * c.co * c.ho * c.wo * c.ci * c.kh * c.kw;
      EXPECT_EQ(lp.macs(), pass == Pass::bwd_weight ? c.co * c.ci * c.kh * c.kw * c.n * c.ho * c.wo : taps);
      EXPECT_EQ(lp.out_shape, natural_shape(pass, c));
      EXPECT_EQ(int64_t(lp.x_index.size()), m * g * k);
      EXPECT_EQ(int64_t(yt.index.size()), p * g * k);
      EXPECT_EQ(int64_t(lp.x_group.size()), m * g);
      EXPECT_EQ(int64_t(yt.groups.size()), p * g);
      const int64_t y_real = std::count_if(yt.index.begin(), yt.index.end(), [](int32_t v) { return v >= 0; });
      EXPECT_EQ(y_real, real);
      EXPECT_EQ(std::count(lp.x_index.begin(), lp.x_index.end(), -1), 0);  // X is never padded
      std::set<int64_t> outs(lp.out_index.begin(), lp.out_index.end());
      EXPECT_EQ(int64_t(outs.size()), m * p);
      EXPECT_EQ(*outs.begin(), 0);
      EXPECT_EQ(*outs.rbegin(), mls::numel(lp.out_shape) - 1);
    }
  }
}

// ---- overflow counting --------------------------------------------------------

// The docs/reference.md#lowering-to-a-grouped-product table, written out: the signed products of output (m, p) in group g,
// in ascending k, 0 for a padding or zero-insertion tap.
std::vector<int64_t> products(Pass pass, const ConvGeometry& c, const Layer& L, int64_t m, int64_t p, int64_t g) {
  const ConvParams& q = c.params;
  auto W = [&](int64_t co, int64_t ci, int64_t kh, int64_t kw) {
    return int64_t(L.w.sq[size_t(((co * c.ci + ci) * c.kh + kh) * c.kw + kw)]);
  };
  auto A = [&](int64_t n, int64_t ci, int64_t h, int64_t w) -> int64_t {
    if (h < 0 || h >= c.h || w < 0 || w >= c.w) return 0;
    return L.a.sq[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)];
  };
  auto E = [&](int64_t n, int64_t co, int64_t ho, int64_t wo) {
    return int64_t(L.e.sq[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)]);
  };
  std::vector<int64_t> out;
  if (pass == Pass::fwd) {  // m = co, p = (n, ho, wo), g = ci, k = (kh, kw)
    const int64_t n = p / (c.ho * c.wo), ho = p / c.wo % c.ho, wo = p % c.wo;
    for (int64_t kh = 0; kh < c.kh; ++kh)
      for (int64_t kw = 0; kw < c.kw; ++kw)
        out.push_back(W(m, g, kh, kw) *
                      A(n, g, ho * q.stride_h - q.pad_h + kh * q.dil_h, wo * q.stride_w - q.pad_w + kw * q.dil_w));
  } else if (pass == Pass::bwd_data) {  // m = ci, p = (n, h, w), g = co, k = (kh, kw)
    const int64_t n = p / (c.h * c.w), h = p / c.w % c.h, w = p % c.w;
    for (int64_t kh = 0; kh < c.kh; ++kh)
      for (int64_t kw = 0; kw < c.kw; ++kw) {
        const int64_t nh = h + q.pad_h - kh * q.dil_h, nw = w + q.pad_w - kw * q.dil_w;
        const bool ok = nh >= 0 && nw >= 0 && nh % q.stride_h == 0 && nw % q.stride_w == 0 &&
                        nh / q.stride_h < c.ho && nw / q.stride_w < c.wo;
        out.push_back(ok ? W(g, m, kh, kw) * E(n, g, nh / q.stride_h, nw / q.stride_w) : 0);
      }
  } else {  // m = co, p = (ci, kh, kw), g = n, k = (ho, wo)
    const int64_t ci = p / (c.kh * c.kw), kh = p / c.kw % c.kh, kw = p % c.kw;
    for (int64_t ho = 0; ho < c.ho; ++ho)
      for (int64_t wo = 0; wo < c.wo; ++wo)
        out.push_back(E(g, m, ho, wo) *
                      A(g, ci, ho * q.stride_h - q.pad_h + kh * q.dil_h, wo * q.stride_w - q.pad_w + kw * q.dil_w));
  }
  return out;
}

// Flat output index of (m, p) in the natural shape.
int64_t out_flat(Pass pass, const ConvGeometry& c, int64_t m, int64_t p) {
  if (pass == Pass::fwd) return (p / (c.ho * c.wo) * c.co + m) * c.ho * c.wo + p % (c.ho * c.wo);
  if (pass == Pass::bwd_data) return (p / (c.h * c.w) * c.ci + m) * c.h * c.w + p % (c.h * c.w);
  return m * c.ci * c.kh * c.kw + p;
}

// Group index of the X element of (m, g) and the Y element of (p, g), nc grouping.
double x_scale(Pass pass, const Layer& L, int64_t m, int64_t g) {
  const ConvGeometry& c = L.geo;
  if (pass == Pass::bwd_weight) return L.e.group_scale(g * c.co + m);  // E[n = g, co = m]
  if (pass == Pass::bwd_data) return L.w.group_scale(g * c.ci + m);    // W[co = g, ci = m]
  return L.w.group_scale(m * c.ci + g);                                // W[co = m, ci = g]
}
double y_scale(Pass pass, const Layer& L, int64_t p, int64_t g) {
  const ConvGeometry& c = L.geo;
  if (pass == Pass::fwd) return L.a.group_scale(p / (c.ho * c.wo) * c.ci + g);      // A[n, ci = g]
  if (pass == Pass::bwd_data) return L.e.group_scale(p / (c.h * c.w) * c.co + g);  // E[n, co = g]
  return L.a.group_scale(g * c.ci + p / (c.kh * c.kw));                            // A[n = g, ci]
}

TEST(ref_golden, OverflowCountAndValuesMatchADirectPartialSumWalk) {
  QuantConfig qc;
  ConvParams prm;
  prm.pad_h = prm.pad_w = 1;
  prm.stride_h = prm.stride_w = 2;
  const Layer L = make_layer(2, 3, 4, 7, 7, 3, prm, 5000, qc);
  ConvParams prm1;
  prm1.pad_h = prm1.pad_w = 1;
  const Layer L1 = make_layer(2, 4, 3, 6, 6, 3, prm1, 5100, qc);
  uint64_t total_overflows = 0;
  for (const Layer* layer : {&L, &L1})
    for (int bits : {8, 10, 12})
      for (Overflow ov : {Overflow::saturate, Overflow::wrap})
        for (int chunk : {4, 16})
          for (Pass pass : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight}) {
            const Layer& Ly = *layer;
            const ConvGeometry& c = Ly.geo;
            SCOPED_TRACE(pass_name(pass) + " acc_bits " + std::to_string(bits) +
                         (ov == Overflow::wrap ? " wrap" : " saturate") + " chunk " + std::to_string(chunk));
            const QuantTensor &x = x_of(Ly, pass), &y = y_of(Ly, pass);
            const ArrayConfig a = array(16, chunk, bits, ov);
            const mls::GoldenResult r = mls::golden_pass(Ly.conv.lower(pass, x.layout, y.layout), x, y, a);
            // The walk, from the docs/reference.md#convolution-arithmetic wording.
            const int64_t lo = -(int64_t{1} << (bits - 1)), hi = (int64_t{1} << (bits - 1)) - 1;
            const int64_t M = pass == Pass::bwd_data ? c.ci : c.co;
            const int64_t P = pass == Pass::fwd ? c.n * c.ho * c.wo : pass == Pass::bwd_data ? c.n * c.h * c.w
                                                                                             : c.ci * c.kh * c.kw;
            const int64_t G = pass == Pass::fwd ? c.ci : pass == Pass::bwd_data ? c.co : c.n;
            const double tensor_scale = double(x.s_t) * double(y.s_t) * std::ldexp(1.0, x.elem.unit_exp() + y.elem.unit_exp());
            uint64_t count = 0;
            for (int64_t m = 0; m < M; ++m)
              for (int64_t p = 0; p < P; ++p) {
                double expect = 0, mag = 0;
                int64_t n_chunks = 0;
                for (int64_t g = 0; g < G; ++g) {
                  const std::vector<int64_t> prods = products(pass, c, Ly, m, p, g);
                  for (size_t k0 = 0; k0 < prods.size(); k0 += size_t(chunk)) {
                    int64_t sum = 0;
                    for (size_t k = k0; k < std::min(prods.size(), k0 + size_t(chunk)); ++k) {
                      sum += prods[k];
                      if (sum < lo || sum > hi) {
                        ++count;
                        if (ov == Overflow::saturate) sum = sum < lo ? lo : hi;
                        else sum = ((sum - lo) % (hi - lo + 1) + (hi - lo + 1)) % (hi - lo + 1) + lo;
                      }
                    }
                    const double scaled = double(sum) * x_scale(pass, Ly, m, g) * y_scale(pass, Ly, p, g) * tensor_scale;
                    expect += scaled;
                    mag += std::fabs(scaled);
                    ++n_chunks;
                  }
                }
                const int64_t tiles = (n_chunks + 15) / 16;
                const double tol = (1 + 4 + double(tiles) + 2) * kU24 * mag * 1.001;
                EXPECT_NEAR(double(r.out.data[size_t(out_flat(pass, c, m, p))]), expect, tol)
                    << "m " << m << " p " << p;
              }
            EXPECT_EQ(r.acc_overflow, count);
            total_overflows += count;
          }
  EXPECT_GT(total_overflows, 1000u);  // the walk did see overflows
}

TEST(ref_golden, AccumulateClosedForms) {
  // n identical products p from 0 with a-bit saturation: the first floor(hi / p)
  // additions fit, every later one overflows and leaves the sum at hi.
  for (int a : {8, 10, 16})
    for (int64_t p : {1, 3, 10, 100, 127, 128, 1000})
      for (int64_t n : {1, 5, 50, 2000}) {
        const int64_t hi = (int64_t{1} << (a - 1)) - 1, lo = -hi - 1;
        uint64_t ov = 0;
        int64_t acc = 0;
        for (int64_t i = 0; i < n; ++i) acc = mls::accumulate(acc, p, a, Overflow::saturate, ov);
        const int64_t fit = hi / p;
        EXPECT_EQ(ov, uint64_t(std::max<int64_t>(0, n - fit))) << a << " " << p << " " << n;
        EXPECT_EQ(acc, n > fit ? hi : n * p);
        // Negative products saturate at lo: floor(-lo / p) fit.
        ov = 0;
        acc = 0;
        for (int64_t i = 0; i < n; ++i) acc = mls::accumulate(acc, -p, a, Overflow::saturate, ov);
        const int64_t fit_neg = -lo / p;
        EXPECT_EQ(ov, uint64_t(std::max<int64_t>(0, n - fit_neg))) << a << " " << -p << " " << n;
        EXPECT_EQ(acc, n > fit_neg ? lo : -n * p);
        // Wrap: the sum is n p modulo 2^a in [lo, hi]; an overflow is counted each
        // time the true sum crosses into the next 2^a window: floor((n p - lo) / 2^a).
        if (p < (int64_t{1} << (a - 1))) {
          ov = 0;
          acc = 0;
          for (int64_t i = 0; i < n; ++i) acc = mls::accumulate(acc, p, a, Overflow::wrap, ov);
          const int64_t mod = int64_t{1} << a;
          EXPECT_EQ(ov, uint64_t((n * p - lo) / mod)) << "wrap " << a << " " << p << " " << n;
          EXPECT_EQ(acc, ((n * p - lo) % mod) + lo);
        }
      }
  // Hand cases.
  uint64_t ov = 0;
  EXPECT_EQ(mls::accumulate(127, 1, 8, Overflow::wrap, ov), -128);
  EXPECT_EQ(mls::accumulate(-128, -1, 8, Overflow::wrap, ov), 127);
  EXPECT_EQ(mls::accumulate(100, 15376, 8, Overflow::wrap, ov), (100 + 15376 + 128) % 256 - 128);
  EXPECT_EQ(mls::accumulate(-100, -15376, 8, Overflow::saturate, ov), -128);
  EXPECT_EQ(ov, 4u);
  EXPECT_EQ(mls::accumulate(-128, 255, 8, Overflow::saturate, ov), 127);
  EXPECT_EQ(ov, 4u);
  const int64_t big = (int64_t{1} << 61) - 1;
  EXPECT_EQ(mls::accumulate(big, 1, 62, Overflow::saturate, ov), big);
  EXPECT_EQ(mls::accumulate(big, 1, 62, Overflow::wrap, ov), -big - 1);
  EXPECT_EQ(ov, 6u);
}

// ---- exactness of the fp32 pieces ---------------------------------------------

TEST(ref_golden, ScaleChunkIsOneCorrectRounding) {
  ScaleFormat e8m1;
  ScaleFormat e8m0;
  e8m0.m = 0;
  const double mant1[] = {1.0, 1.5};
  // Exact cases: P * {1, 1.5, 2.25} * 2^(ex + ey), all four mantissa pairs.
  for (int64_t P : {int64_t{0}, int64_t{1}, int64_t{-7}, int64_t{12345}, -(int64_t{1} << 20), int64_t{3} << 40})
    for (uint8_t mx : {0, 1})
      for (uint8_t my : {0, 1})
        for (int ex : {0, -3, -40, -255})
          for (int ey : {0, -1, -60}) {
            const double exact = double(P) * mant1[mx] * mant1[my] * std::ldexp(1.0, ex + ey);  // exact in double
            const float got = mls::scale_chunk(P, GroupScale{int16_t(ex), mx}, GroupScale{int16_t(ey), my}, e8m1);
            EXPECT_EQ(got, static_cast<float>(exact)) << P << " " << int(mx) << int(my) << " " << ex << " " << ey;
            if (mx == 0 && my == 0) {
              EXPECT_EQ(mls::scale_chunk(P, GroupScale{int16_t(ex), 0}, GroupScale{int16_t(ey), 0}, e8m0),
                        static_cast<float>(exact));
            }
          }
  // Gradual underflow: results below 2^-126 round once to a subnormal.
  int subnormals = 0;
  for (int64_t P : {1, 3, 5, 1001, -1001, 12347, 99991, 1 << 23})
    for (uint8_t mx : {0, 1})
      for (uint8_t my : {0, 1})
        for (int e : {-130, -140, -145, -150, -152, -160, -170}) {
          const double exact = double(P) * mant1[mx] * mant1[my] * std::ldexp(1.0, e);
          const float want = static_cast<float>(exact);
          const float got = mls::scale_chunk(P, GroupScale{int16_t(e / 2), mx}, GroupScale{int16_t(e - e / 2), my}, e8m1);
          EXPECT_EQ(got, want) << P << " " << int(mx) << int(my) << " 2^" << e << " exact " << exact;
          subnormals += want != 0 && std::fabs(want) < 0x1p-126f;
        }
  EXPECT_GT(subnormals, 50);
  // Hand-worked subnormal ties: 3 * 2^-150 = 1.5 ulp -> 2 ulp; 2^-150 = 0.5 ulp -> 0;
  // 2.25 * 2^-150 = 1.125 ulp -> 1 ulp; 5 * 2^-150 = 2.5 ulp -> 2 ulp.
  EXPECT_EQ(mls::scale_chunk(3, GroupScale{-75, 0}, GroupScale{-75, 0}, e8m1), 0x1p-148f);
  EXPECT_EQ(mls::scale_chunk(1, GroupScale{-75, 0}, GroupScale{-75, 0}, e8m1), 0.0f);
  EXPECT_EQ(mls::scale_chunk(1, GroupScale{-75, 1}, GroupScale{-75, 1}, e8m1), 0x1p-149f);
  EXPECT_EQ(mls::scale_chunk(5, GroupScale{-75, 0}, GroupScale{-75, 0}, e8m1), 0x1p-148f);
  EXPECT_EQ(mls::scale_chunk(-3, GroupScale{-75, 0}, GroupScale{-75, 0}, e8m1), -0x1p-148f);
  // Large sums where going through double first would round twice:
  // P = 2^54 + 2^30 + 1 is just above the midpoint 2^54 + 2^30 between the
  // fp32 neighbours 2^54 and 2^54 + 2^31, so the result is 2^54 + 2^31.
  const int64_t P = (int64_t{1} << 54) + (int64_t{1} << 30) + 1;
  EXPECT_EQ(mls::scale_chunk(P, GroupScale{0, 0}, GroupScale{0, 0}, e8m1), 0x1p54f + 0x1p31f);
  EXPECT_EQ(mls::scale_chunk(-P, GroupScale{-3, 0}, GroupScale{-4, 0}, e8m1), -(0x1p47f + 0x1p24f));
  // Exactly the midpoint ties to even (2^54).
  EXPECT_EQ(mls::scale_chunk(P - 1, GroupScale{0, 0}, GroupScale{0, 0}, e8m1), 0x1p54f);
  // 2^61 - 1 rounds up to 2^61; times 2.25 * 2^-2: 9 * 2^57 - 9/16 -> 9 * 2^57.
  const int64_t top = (int64_t{1} << 61) - 1;
  EXPECT_EQ(mls::scale_chunk(top, GroupScale{0, 0}, GroupScale{0, 0}, e8m1), 0x1p61f);
  EXPECT_EQ(mls::scale_chunk(top, GroupScale{-1, 1}, GroupScale{-1, 1}, e8m1), 9 * 0x1p57f);
}

TEST(ref_golden, TreeReduceUsesTheFixedPairwiseOrder) {
  uint64_t adds = 0;
  {
    // (1e8 + 1) + (-1e8 + 1) = 1e8 + -1e8 = 0 in fp32 (spacing 8 at 1e8);
    // left to right would give 1.
    const float v[] = {1e8f, 1.0f, -1e8f, 1.0f};
    const bool ok[] = {true, true, true, true};
    EXPECT_EQ(mls::tree_reduce(v, ok, 4, adds), 0.0f);
    EXPECT_EQ(adds, 3u);
  }
  {
    // (1e8 + -1e8) + (1 + 1) = 2.
    const float v[] = {1e8f, -1e8f, 1.0f, 1.0f};
    const bool ok[] = {true, true, true, true};
    adds = 0;
    EXPECT_EQ(mls::tree_reduce(v, ok, 4, adds), 2.0f);
    EXPECT_EQ(adds, 3u);
  }
  {
    // Five slots, slot 1 empty: level 1 [a0, a2 + a3, a4], level 2 [a0 + (a2 + a3), a4],
    // level 3 the root: (1e8 + 2) + -1e8 = 1e8 + -1e8 = 0. A sequential order gives 2.
    const float v[] = {1e8f, 12345.0f, 1.0f, 1.0f, -1e8f};
    const bool ok[] = {true, false, true, true, true};
    adds = 0;
    EXPECT_EQ(mls::tree_reduce(v, ok, 5, adds), 0.0f);
    EXPECT_EQ(adds, 3u);
  }
  {
    // Sixteen slots, 2^(4i) magnitudes: the result is the hand-evaluated tree.
    float v[16];
    bool ok[16];
    for (int i = 0; i < 16; ++i) {
      v[i] = std::ldexp(i % 3 == 0 ? -1.0f : 1.0f + 0x1p-10f * float(i), 3 * i);
      ok[i] = true;
    }
    float level[16];
    std::copy(v, v + 16, level);
    for (int n = 16; n > 1; n /= 2)
      for (int i = 0; i < n / 2; ++i) level[i] = level[2 * i] + level[2 * i + 1];
    adds = 0;
    EXPECT_EQ(mls::tree_reduce(v, ok, 16, adds), level[0]);
    EXPECT_EQ(adds, 15u);
    // Only slots 0..4 valid (a last, partial tile): ((a0 + a1) + (a2 + a3)) + a4.
    for (int i = 5; i < 16; ++i) ok[i] = false;
    adds = 0;
    EXPECT_EQ(mls::tree_reduce(v, ok, 16, adds), ((v[0] + v[1]) + (v[2] + v[3])) + v[4]);
    EXPECT_EQ(adds, 4u);
  }
  {
    const float v[] = {3.0f, 4.0f};
    const bool none[] = {false, false};
    adds = 0;
    EXPECT_EQ(mls::tree_reduce(v, none, 2, adds), 0.0f);
    EXPECT_EQ(adds, 0u);
    const bool one[] = {true};
    EXPECT_EQ(mls::tree_reduce(v, one, 1, adds), 3.0f);
    EXPECT_EQ(adds, 0u);
  }
}

TEST(ref_golden, FinalScaleFactorHandCases) {
  const mls::ElemFormat e2m4 = mls::parse_elem_format("e2m4");  // u = 2^-7
  const mls::ElemFormat e3m3 = mls::parse_elem_format("e3m3");  // u = 2^-10
  const mls::ElemFormat e0m4 = mls::parse_elem_format("e0m4");  // u = 2^-4
  EXPECT_EQ(mls::final_scale_factor(1.0f, 1.0f, e2m4, e2m4), 0x1p-14f);
  EXPECT_EQ(mls::final_scale_factor(3.0f, 5.0f, e2m4, e3m3), 15 * 0x1p-17f);
  EXPECT_EQ(mls::final_scale_factor(0.5f, 6.0f, e0m4, e2m4), 3 * 0x1p-11f);
  // (1 + 2^-23)(1.5) = 1.5 + 1.5 2^-23: halfway between 1.5 + 2^-23 (odd) and
  // 1.5 + 2^-22 (even): ties to even.
  EXPECT_EQ(mls::final_scale_factor(1.0f + 0x1p-23f, 1.5f, e2m4, e2m4), (1.5f + 0x1p-22f) * 0x1p-14f);
  // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46 -> 1 + 2^-22.
  EXPECT_EQ(mls::final_scale_factor(1.0f + 0x1p-23f, 1.0f + 0x1p-23f, e2m4, e2m4), (1.0f + 0x1p-22f) * 0x1p-14f);
  // Gradual underflow: 2^-100 * 2^-20 * 2^-14 = 2^-134, a subnormal.
  EXPECT_EQ(mls::final_scale_factor(0x1p-100f, 0x1p-20f, e2m4, e2m4), 0x1p-134f);
  // One rounding, not two: (1 + 2^-12)^2 2^-139 = (1 + 2^-11 + 2^-24) 2^-139 is a
  // subnormal with 11 significant bits (ulp 2^-149): just above the tie between
  // 2^-139 and (1 + 2^-10) 2^-139, so it rounds up. Rounding the product to
  // fp32 first would drop the 2^-24 and then tie to even, down to 2^-139.
  EXPECT_EQ(mls::final_scale_factor((1.0f + 0x1p-12f) * 0x1p-62f, (1.0f + 0x1p-12f) * 0x1p-63f, e2m4, e2m4),
            (1.0f + 0x1p-10f) * 0x1p-139f);
  EXPECT_EQ(mls::final_scale_factor(0.0f, 5.0f, e2m4, e2m4), 0.0f);
}

TEST(ref_golden, AllZeroOperandGivesZeroOutput) {
  QuantConfig qc;
  ConvParams prm;
  prm.pad_h = prm.pad_w = 1;
  Layer L = make_layer(2, 3, 2, 4, 4, 3, prm, 6000, qc);
  const TensorF zeros(Shape{2, 3, 4, 4});
  L.a = mls::quantize(zeros, "L.input", qc);
  const mls::GoldenResult r = mls::golden_pass(L.conv.lower(Pass::fwd, L.w.layout, L.a.layout), L.w, L.a, array(16, 16));
  for (float v : r.out.data) EXPECT_EQ(v, 0.0f);
}

}  // namespace
