#pragma once
// The R x C FP-MUL-less multipliers: each decodes its two <E_x, M_x> elements
// into an (M+1)-bit mantissa and a shift, multiplies the mantissas and shifts.
// The decoders are applied once per job to the whole X buffer (a plane of
// operand values, sign * mantissa << shift, in the buffer's [g][k][m] order)
// and once per chunk tile to its rows' broadcast Y codes; the products travel as
// those decoded operands (Products), multiplied where they are added
// (LocalAccumulator's fused row kernel): the value identity is
// operand_value's (hw_model/datapath/datapath.h).
#include <vector>

#include "hw_model/channels/bundles.h"
#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"
#include "hw_model/job/layer_job.h"
#include "hw_model/stats/stats.h"
#include "ref/core/config.h"

namespace mls::hw {

// A plain block (hw_model/channels/clocked.h): edge() is one clock edge.
class Multiplier {
 public:
  static constexpr const char* kName = "multiplier";  // in the stats registry and the VCD file
  using In = Operands;
  using Out = Products;

  Multiplier(const MlsConfig& cfg, Stats* stats);
  // The job's element formats (X's and Y's differ when W, A and E are
  // quantized differently) and its X buffer, decoded once.
  void load(const LayerJob& job);
  // The products of these formats fit 32 bits (Products::narrow).
  bool narrow() const { return narrow_; }
  void edge(const Operands& in, Products& out, bool rst);

 private:
  void set_formats(const ElemFormat& x, const ElemFormat& y);
  void decode_x(const LayerJob& job);
  void decode_tile(const Operands& in);

  const int rows_, cols_;
  const Fault fault_;
  Stats* stats_;
  // Each decoder as a table: code -> operand_value (sign * mantissa << shift).
  // A value is 0 iff its mantissa is.
  std::vector<int32_t> value_x_, value_y_;
  kernels::CodeFormat y_code_{0, 0};  // Y's decoder in lane arithmetic (kernels::decode_span)
  bool narrow_ = false;
  // The X buffer decoded: [g][k][m] operand values, and per m-tile and X
  // buffer row how many of the tile's values are 0 (mul_zero without a per-edge
  // scan: a product is 0 iff one of its operands is).
  std::vector<int32_t> x_values_;
  std::vector<uint32_t> x_zeros_;  // [m-tile][g k]
  int64_t m_tiles_ = 0, gk_ = 0;
  // The Y values of the current and the previous chunk tile (TileRows::y_len
  // of them; where each row's start is the tile's y_at).
  std::vector<int32_t> y_tile_[2];
  int tile_slot_ = 0;
};

}  // namespace mls::hw
