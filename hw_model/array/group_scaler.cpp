#include "hw_model/array/group_scaler.h"

#include "hw_model/datapath/datapath.h"

#include <cstring>

namespace mls::hw {

GroupScaler::GroupScaler(sc_core::sc_module_name name, const ArrayConfig& cfg, Stats* stats)
    : sc_module(name), rows_(cfg.rows), cols_(cfg.cols), fault_(cfg.fault), stats_(stats) {
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void GroupScaler::load(const LayerJob& job) {
  job_ = &job;
  form_ = scaler_form(job.x_scale, job.y_scale);
  // X's register file decoded for the common double form: [g][m], so the
  // columns of a row read neighbours.
  const int x_m = job.x_scale.m;
  x_exp_.resize(size_t(job.g) * size_t(job.m));
  x_mantissa_.resize(x_exp_.size());
  for (int64_t m = 0; m < job.m; ++m)
    for (int64_t g = 0; g < job.g; ++g) {
      const GroupScale sx = x_register(job.x_scales[size_t(m * job.g + g)]);
      x_exp_[size_t(g * job.m + m)] = int32_t(sx.exp) - x_m;
      x_mantissa_[size_t(g * job.m + m)] = int32_t(scale_mantissa(form_, sx, x_m));
    }
}

namespace {

// One row of group_scale's double form: value[c] = fp32(sum[c] * mantissa[c]
// * 2^(exp[c])) with mantissa[c] = x_mantissa[c] * y_mantissa and exp[c] =
// x_exp[c] + y_exp, one rounding (scale_in_double's arithmetic: the sum
// converted exactly, |sum| < 2^45, times a mantissa product below 2^8 is
// below 2^53, so exact, and times a normal power of two exact too). The sum
// goes to double by the exponent-bias trick (1.5 * 2^52 + sum, exact for
// |sum| < 2^51) so that the loop vectorises without AVX-512's int64-to-double
// conversion. Returns false when some element is outside in_double_range:
// then the row is scaled element by element instead.
__attribute__((target_clones("avx2", "default")))
bool scale_row_in_double(float* __restrict value, const int64_t* __restrict sum, const int32_t* __restrict x_exp,
                         const int32_t* __restrict x_mantissa, int32_t y_exp, int32_t y_mantissa, int n) {
  constexpr uint64_t kBias = 0x4338000000000000;  // 1.5 * 2^52
  constexpr double kBiasValue = 6755399441055744.0;
  uint64_t outside = 0;
  for (int c = 0; c < n; ++c) {
    const int64_t s = sum[c];
    const int64_t e = int64_t(x_exp[c]) + y_exp;
    outside |= uint64_t(s + (kScaleInDouble - 1)) > uint64_t(2 * kScaleInDouble - 2);
    outside |= uint64_t(e + 1022) > uint64_t(1022 + 960);
    double d, pow2;
    const uint64_t s_bits = uint64_t(s) + kBias, pow2_bits = uint64_t(e + 1023) << 52;
    std::memcpy(&d, &s_bits, sizeof d);
    std::memcpy(&pow2, &pow2_bits, sizeof pow2);
    value[c] = float((d - kBiasValue) * double(x_mantissa[c] * y_mantissa) * pow2);
  }
  return outside == 0;
}

}  // namespace

void GroupScaler::on_clock() {
  if (!clk.posedge()) return;  // woken between edges (ClockGate): run from the next one
  ScaledSums& o = out->next();
  const ChunkSums& s = in->read();
  o.tag = s.tag;
  if (rst.read() || !s.tag.valid) {
    o.tag.valid = false;
    if (!rst.read()) gate_.sleep();
    return;
  }
  const LayerJob& j = *job_;
  o.row_valid = s.row_valid;
  o.active_cols = s.active_cols;
  o.value.resize(size_t(rows_) * size_t(cols_));
  const ScalerForm form = form_;
  const int x_m = j.x_scale.m, y_m = j.y_scale.m, cols = s.active_cols;
  const int64_t groups = j.g, m0 = s.tag.m_tile * cols_;
  const GroupScale* y_scales = j.y.scales(s.tag.p);
  uint64_t scaled = 0;
  for (int r = 0; r < rows_; ++r) {
    if (!s.row_valid[size_t(r)]) continue;
    const int64_t g = j.plan.group_of(s.tag.tile * rows_ + r);
    const GroupScale sy = y_scales[g];
    const int64_t* sum = &s.sum[size_t(r) * size_t(cols_)];
    float* value = &o.value[size_t(r) * size_t(cols_)];
    const size_t x0 = size_t(g * j.m + m0);
    scaled += uint64_t(cols);
    if (scale_row_in_double(value, sum, &x_exp_[x0], &x_mantissa_[x0], int32_t(sy.exp) - y_m,
                            int32_t(scale_mantissa(form, sy, y_m)), cols))
      continue;
    // Some sum or exponent is beyond the double form: the integer scalers.
    for (int c = 0; c < cols; ++c)
      value[c] = group_scale(form, sum[c], x_register(j.x_scales[size_t((m0 + c) * groups + g)]), sy, x_m, y_m);
  }
  stats_->scale += scaled;
  if (form == ScalerForm::multiplier) stats_->scale_mul += scaled;
}

}  // namespace mls::hw
