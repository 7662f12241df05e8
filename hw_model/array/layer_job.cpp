#include "hw_model/array/layer_job.h"

#include <string>

#include "ref/core/error.h"

namespace mls::hw {

namespace {

uint32_t code_of(const QuantTensor& t, int32_t index) {
  if (index < 0) return 0;  // a padding tap: +0
  const int32_t sq = t.sq[size_t(index)];
  return pack(t.elem, encode_q(t.elem, sq < 0 ? -int64_t(sq) : sq, sq < 0));
}

}  // namespace

LayerJob make_layer_job(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const Mapping& mapping,
                        float* out) {
  LayerJob job;
  job.m = lp.m, job.p = lp.p, job.g = lp.g, job.k = lp.k;
  job.mapping = mapping;
  job.plan = mapping.chunk_plan(lp.k, lp.g);
  job.x_elem = x.elem;
  job.y_elem = y.elem;
  job.x_scale = x.scale;
  job.y_scale = y.scale;
  job.x_codes.resize(lp.x_index.size());
  for (int64_t m = 0; m < lp.m; ++m)
    for (int64_t gk = 0; gk < lp.g * lp.k; ++gk)
      job.x_codes[size_t(gk * lp.m + m)] = code_of(x, lp.x_index[size_t(m * lp.g * lp.k + gk)]);
  job.y_codes.resize(lp.y_index.size());
  for (size_t i = 0; i < lp.y_index.size(); ++i) job.y_codes[i] = code_of(y, lp.y_index[i]);
  for (int32_t gi : lp.x_group) job.x_scales.push_back(x.sg[size_t(gi)]);
  for (int32_t gi : lp.y_group) job.y_scales.push_back(y.sg[size_t(gi)]);
  job.s_t_x = x.s_t;
  job.s_t_y = y.s_t;
  job.out_index = lp.out_index;
  job.out = out;
  return job;
}

void check_job_fits(const LayerJob& job, int rows, int cols) {
  if (job.mapping.rows() != rows || job.mapping.cols() != cols)
    throw Error("layer job mapped for a " + std::to_string(job.mapping.rows()) + " x " +
                std::to_string(job.mapping.cols()) + " array, not this " + std::to_string(rows) + " x " +
                std::to_string(cols) + " one");
}

}  // namespace mls::hw
