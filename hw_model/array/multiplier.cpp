#include "hw_model/array/multiplier.h"

#include <algorithm>

namespace mls::hw {

Multiplier::Multiplier(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats)
    : sc_module(name), rows_(cfg.array.rows), cols_(cfg.array.cols), fault_(cfg.array.fault), stats_(stats) {
  set_formats(cfg.quant.weight.elem, cfg.quant.input.elem);  // forward's X and Y until a job says otherwise
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void Multiplier::set_formats(const ElemFormat& x, const ElemFormat& y) {
  for (auto [fmt, table] : {std::pair{&x, &value_x_}, std::pair{&y, &value_y_}}) {
    table->resize(size_t{1} << fmt->bits());
    for (uint32_t code = 0; code < table->size(); ++code) (*table)[code] = operand_value(decode_operand(*fmt, code));
  }
}

void Multiplier::on_clock() {
  Products& o = out->next();
  const Operands& in_ops = in->read();
  o.tag = in_ops.tag;
  if (rst.read() || !in_ops.tag.valid) {
    o.tag.valid = false;
    return;
  }
  o.row_active = in_ops.row_active;
  o.active_cols = in_ops.active_cols;
  o.product.resize(size_t(rows_) * size_t(cols_));
  uint64_t products = 0, zero_products = 0;
  for (int r = 0; r < rows_; ++r) {
    if (!in_ops.row_active[size_t(r)]) continue;
    const int64_t y = value_y_[in_ops.y[size_t(r)]];
    const uint32_t* x = &in_ops.x[size_t(r) * size_t(cols_)];
    int64_t* prod = &o.product[size_t(r) * size_t(cols_)];
    products += uint64_t(in_ops.active_cols);
    if (y == 0) {  // a zero broadcast (padding, ReLU): every product of the row is 0
      std::fill(prod, prod + in_ops.active_cols, 0);
      zero_products += uint64_t(in_ops.active_cols);
      continue;
    }
    for (int c = 0; c < in_ops.active_cols; ++c) {
      const int64_t xv = value_x_[x[c]];
      prod[c] = multiply_values(xv, y);
      zero_products += xv == 0;
    }
  }
  if (fault_ == Fault::mul_lsb && in_ops.row_active[0]) o.product[0] |= 1;  // PE (0,0) bit 0 stuck at 1
  stats_->mul += products;
  stats_->mul_zero += zero_products;
}

}  // namespace mls::hw
