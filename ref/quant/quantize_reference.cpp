// The plain walk of the reference quantizer: element by element, the group of
// each found by group_of, the steps of docs/reference.md#the-reference-quantizer
// as written. quantize (quantize_runs.cpp) must give the same tensor bit for
// bit; ref_quantize_fast_test holds it to this walk.
#include <algorithm>
#include <cmath>

#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/quant/quant_walk.h"
#include "ref/quant/quantizer.h"

namespace mls {

namespace quant_detail {

void check_random(const TensorF& x, const TensorF& random, const std::string& name) {
  if (random.shape != x.shape)
    throw Error("tensor '" + name + "': random tensor shape " + shape_str(random.shape) +
                " differs from the tensor's " + shape_str(x.shape));
  for (int64_t i = 0; i < random.size(); ++i) {
    const float r = random.data[static_cast<size_t>(i)];
    if (!(r >= -0.5f && r < 0.5f))
      throw Error("tensor '" + name + "': random value " + std::to_string(r) + " at flat index " +
                  std::to_string(i) + " is outside [-0.5, 0.5)");
  }
}

}  // namespace quant_detail

QuantTensor quantize_reference(const TensorF& x, const std::string& name, const QuantConfig& cfg,
                               const BlockAxis& axis, const TensorF* random, int threads) {
  check_finite(x, name);
  if (random) quant_detail::check_random(x, *random, name);
  QuantTensor q;
  q.name = name;
  q.shape = x.shape;
  q.elem = cfg.elem;
  q.scale = cfg.scale;
  q.layout = GroupLayout(x.shape, cfg.group, axis);
  q.sq.assign(x.data.size(), 0);

  std::vector<float> group_max(static_cast<size_t>(q.layout.groups()), 0.0f);
  for (int64_t i = 0; i < x.size(); ++i) {
    float& gm = group_max[static_cast<size_t>(q.layout.group_of(i))];
    gm = std::max(gm, std::fabs(x.data[static_cast<size_t>(i)]));
  }
  for (float gm : group_max) q.s_t = std::max(q.s_t, gm);
  q.sg.resize(group_max.size());
  for (size_t g = 0; g < group_max.size(); ++g)
    q.sg[g] = group_scale_for_ratio(q.s_t == 0.0f ? 0.0 : double(group_max[g]) / double(q.s_t), cfg.scale,
                                    cfg.scale_rule, cfg.elem);
  if (q.s_t == 0.0f) return q;

  // Each group's divisor once (the same double product as per element).
  std::vector<double> divisor(q.sg.size());
  for (size_t g = 0; g < q.sg.size(); ++g) divisor[g] = double(q.s_t) * q.group_scale(int64_t(g));
  const CounterRng rng(cfg.seed, name);
  quant_detail::parallel_for(x.size(), threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double v = x.data[static_cast<size_t>(i)];
      const double x_f = std::fabs(v) / divisor[static_cast<size_t>(q.layout.group_of(i))];
      const float r = random ? random->data[static_cast<size_t>(i)] : rng.at(static_cast<uint64_t>(i));
      const int64_t mag = quantize_magnitude(x_f, cfg.elem, cfg.rounding, r, cfg.clip);
      q.sq[static_cast<size_t>(i)] = static_cast<int32_t>(v < 0 ? -mag : mag);
    }
  });
  return q;
}

}  // namespace mls
