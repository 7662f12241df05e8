#include "ref/reference_conv.h"

#include <cmath>

namespace mls {

std::vector<double> reference_conv(Pass pass, const ConvGeometry& c, const TensorF& W, const TensorF& A,
                                   const TensorF* E) {
  const ConvParams& q = c.params;
  const size_t out_size = pass == Pass::fwd        ? size_t(c.n * c.co * c.ho * c.wo)
                          : pass == Pass::bwd_data ? size_t(c.n * c.ci * c.h * c.w)
                                                   : size_t(c.co * c.ci * c.kh * c.kw);
  std::vector<double> out(out_size, 0.0);
  // Every (n, co, ho, wo, ci, kh, kw) tap of the forward conv contributes to
  // exactly one element of each pass's result.
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t co = 0; co < c.co; ++co)
      for (int64_t ho = 0; ho < c.ho; ++ho)
        for (int64_t wo = 0; wo < c.wo; ++wo)
          for (int64_t ci = 0; ci < c.ci; ++ci)
            for (int64_t kh = 0; kh < c.kh; ++kh)
              for (int64_t kw = 0; kw < c.kw; ++kw) {
                const int64_t h = ho * q.stride_h - q.pad_h + kh * q.dil_h;
                const int64_t w = wo * q.stride_w - q.pad_w + kw * q.dil_w;
                if (h < 0 || h >= c.h || w < 0 || w >= c.w) continue;
                const double wv = W.data[size_t(((co * c.ci + ci) * c.kh + kh) * c.kw + kw)];
                const double av = A.data[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)];
                if (pass == Pass::fwd) {
                  out[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)] += wv * av;
                  continue;
                }
                const double ev = E->data[size_t(((n * c.co + co) * c.ho + ho) * c.wo + wo)];
                if (pass == Pass::bwd_data) out[size_t(((n * c.ci + ci) * c.h + h) * c.w + w)] += wv * ev;
                else out[size_t(((co * c.ci + ci) * c.kh + kh) * c.kw + kw)] += ev * av;
              }
  return out;
}

double relative_l2_error(const TensorF& a, const std::vector<double>& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = double(a.data[i]) - ref[i];
    err += d * d;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? std::sqrt(err / norm) : (err > 0 ? INFINITY : 0.0);
}

}  // namespace mls
