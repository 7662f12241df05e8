#pragma once
// Shared by the testbenches that hold a per-pass product of the host's
// (the job's Y rows, the memory plan) against an independent count: random
// tensors, a conv of a given geometry on random W, A and E, and every
// lowered pass of it (each pass, each block, and the decomposed
// backward-data where the conv decomposes), so a new lowering kind reaches
// both tests through one list.
#include <random>
#include <string>
#include <vector>

#include "ref/quant/quantizer.h"
#include "ref/workload/bwd_data_decompose.h"
#include "ref/workload/conv2d.h"

namespace mls::hw::tb {

inline TensorF random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TensorF t(shape);
  for (float& v : t.data) v = normal(gen);
  return t;
}

// One lowered pass with its operands: X and Y as the pass reads them.
struct NamedPass {
  std::string what;  // "fwd", "bwd-data", "bwd-weight" or "decomposed"
  LoweredPass lp;
  const QuantTensor *x, *y;
};

// Every pass of a bound conv on W, A and E (the tensors must outlive the list).
inline std::vector<NamedPass> conv_passes(const Conv2d& conv, const QuantTensor& w, const QuantTensor& a,
                                          const QuantTensor& e) {
  std::vector<NamedPass> passes;
  for (int64_t b = 0; b < conv.blocks(Pass::fwd); ++b) {
    passes.push_back({"fwd", conv.lower(Pass::fwd, b, w.layout, a.layout), &w, &a});
    passes.push_back({"bwd-data", conv.lower(Pass::bwd_data, b, w.layout, e.layout), &w, &e});
    passes.push_back({"bwd-weight", conv.lower(Pass::bwd_weight, b, e.layout, a.layout), &e, &a});
  }
  if (decomposes(conv))
    for (int64_t b = 0; b < decomposed_blocks(conv); ++b)
      passes.push_back({"decomposed", lower_decomposed_bwd_data(conv, b, w.layout, e.layout), &w, &e});
  return passes;
}

// A conv's geometry: W's and A's shapes and its parameters.
struct ConvGeo {
  Shape w, a;
  ConvParams prm;
};

// A conv of that geometry on random W, A and E (seeds 3, 4 and 5), each
// quantized with its own configuration, bound to those shapes. Its passes
// point into it: it must outlive them.
struct ConvCase {
  Conv2d conv;
  TensorF w, a, e;
  QuantTensor qw, qa, qe;
  ConvCase(const ConvGeo& geo, const QuantConfig& for_w, const QuantConfig& for_a, const QuantConfig& for_e)
      : conv(geo.prm),
        w(random_tensor(geo.w, 3)),
        a(random_tensor(geo.a, 4)),
        e(random_tensor(error_shape(geo), 5)),
        qw(quantize(w, "l.weight", for_w)),
        qa(quantize(a, "l.input", for_a)),
        qe(quantize(e, "l.grad_output", for_e)) {
    conv.bind(geo.w, geo.a, &e.shape);
  }
  std::vector<NamedPass> passes() const { return conv_passes(conv, qw, qa, qe); }

 private:
  static Shape error_shape(const ConvGeo& geo) {
    const ConvGeometry c = conv_geometry(geo.w, geo.a, geo.prm);
    return {c.n, c.co, c.ho, c.wo};
  }
};

}  // namespace mls::hw::tb
