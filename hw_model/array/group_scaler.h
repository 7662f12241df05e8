#pragma once
// The group scalers (one per PE): multiply each chunk sum by S_g^X[m,g] *
// S_g^Y[p,g] and round the result once into the tree's fp32 format. Which form
// of scaler does it follows the pass's two scale formats (ScalerForm,
// hw_model/datapath): shifts and adds when both M_g <= 1 (mantissa product 1,
// 1.5 or 2.25), a small integer multiplier when either M_g >= 2.
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/datapath/datapath.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class GroupScaler {
 public:
  static constexpr const char* kName = "group_scaler";  // in the stats registry and the VCD file
  using In = ChunkSums;
  using Out = ScaledSums;

  GroupScaler(const ArrayConfig& cfg, Stats* stats);
  void load(const LayerJob& job);  // the group-scale register files and the scaler form
  ScalerForm form() const { return form_; }
  void edge(const ChunkSums& in, ScaledSums& out, bool rst);

 private:
  // An X scale as the register file holds it: with the scaler_mantissa fault
  // its mantissa code reads 0 (the 1.5x shift-add path is dead, or the
  // multiplier's fraction inputs are stuck at 0).
  GroupScale x_register(GroupScale sx) const {
    if (fault_ == Fault::scaler_mantissa) sx.man = 0;
    return sx;
  }

  const int rows_, cols_;
  const Fault fault_;
  // acc_bits <= 45: no chunk sum reaches the double form's bound 2^45, so
  // the tile kernel tests none (kernels::ScaleRows::checked).
  const bool checked_;
  Stats* stats_;
  const LayerJob* job_ = nullptr;
  ScalerForm form_ = ScalerForm::shift_add;
  // X's scales decoded once per job for the tile kernel (kernels::scale_tile),
  // [g][m]: the mantissa factor of the pass's scaler form times 2^(exponent
  // minus M_g), an exact double; and per group the least and greatest of
  // those exponents, so that a row's exponent range is checked once.
  std::vector<double> x_factor_;
  std::vector<int32_t> x_exp_lo_, x_exp_hi_;
  std::vector<int32_t> y_exp_lo_, y_exp_hi_;  // [g] (load)
  double y_mantissa_[256] = {};               // Y's mantissa factor by mantissa code
  // A tile's per-row operands of the kernel and the rows it left out.
  std::vector<uint8_t> on_, inside_;
  std::vector<const double*> row_x_factor_;
  std::vector<double> row_y_factor_;
  bool all_on_ = true;  // the last tile's valid rows all took the kernel
  // Y's scales decoded for the kernel, a row of G per p: whether the
  // group's rows take the kernel and Y's factor. Every p's row is kept
  // ([p][g], each decoded when first used) when they take at most
  // kWholeBytes, so the m-tiles after the first reuse them; else one row,
  // decoded again when p changes.
  static constexpr int64_t kWholeBytes = int64_t{16} << 20;
  std::vector<uint8_t> y_on_, y_decoded_;  // [P or 1][G], [P] (whole)
  std::vector<double> y_factor_;           // [P or 1][G]
  bool y_whole_ = false;
  int64_t y_p_ = -1;  // the one row's p (not whole)
  size_t y_row(int64_t p);

  uint64_t set_up_rows(const ChunkSums& s);
  void scale_by_element(const ChunkSums& s, ScaledSums& o, int r) const;
};

}  // namespace mls::hw
