#include "hw_model/array/layer_job.h"

#include <algorithm>
#include <memory>
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

YRows::YRows(int64_t g, int64_t k, Fill fill) : g_(g), k_(k), fill_(std::move(fill)), slots_(kSlots) {}

YRows YRows::stored(int64_t g, int64_t k, std::vector<uint32_t> codes, std::vector<GroupScale> scales) {
  auto c = std::make_shared<const std::vector<uint32_t>>(std::move(codes));
  auto s = std::make_shared<const std::vector<GroupScale>>(std::move(scales));
  return YRows(g, k, [c, s, g, k](int64_t p, uint32_t* codes_out, GroupScale* scales_out) {
    std::copy_n(&(*c)[size_t(p * g * k)], g * k, codes_out);
    std::copy_n(&(*s)[size_t(p * g)], g, scales_out);
  });
}

const YRows::Slot& YRows::slot(int64_t p) const {
  Slot& s = slots_[size_t(p % kSlots)];
  if (s.p == p) return s;
  s.codes.resize(size_t(g_ * k_));
  s.scales.resize(size_t(g_));
  fill_(p, s.codes.data(), s.scales.data());
  s.p = p;
  ++fills_;
  return s;
}

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
  for (int32_t gi : lp.x_group) job.x_scales.push_back(x.sg[size_t(gi)]);
  // Y's indices are generated into the codes' own words, then encoded in place.
  auto groups = std::make_shared<std::vector<int32_t>>(size_t(lp.g));
  const int64_t gk = lp.g * lp.k;
  job.y = YRows(lp.g, lp.k, [&lp, &y, groups, gk](int64_t p, uint32_t* codes, GroupScale* scales) {
    int32_t* index = reinterpret_cast<int32_t*>(codes);
    lp.y_row(p, groups->data(), index);
    for (int64_t i = 0; i < gk; ++i) codes[i] = code_of(y, index[i]);
    for (size_t g = 0; g < groups->size(); ++g) scales[g] = y.sg[size_t((*groups)[g])];
  });
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
