#include "hw_model/array/multiplier.h"

#include <algorithm>
#include <type_traits>

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw {

namespace {

int64_t largest_magnitude(const std::vector<int32_t>& table) {
  int64_t m = 0;
  for (int32_t v : table) m = std::max(m, v < 0 ? -int64_t(v) : int64_t(v));
  return m;
}

}  // namespace

Multiplier::Multiplier(sc_core::sc_module_name name, const MlsConfig& cfg, Stats* stats)
    : sc_module(name),
      rows_(cfg.array.rows),
      cols_(cfg.array.cols),
      acc_bits_(cfg.array.acc_bits),
      fault_(cfg.array.fault),
      stats_(stats) {
  set_formats(cfg.quant.weight.elem, cfg.quant.input.elem);  // forward's X and Y until a job says otherwise
  SC_METHOD(on_clock);
  sensitive << clk.pos();
  dont_initialize();
}

void Multiplier::set_formats(const ElemFormat& x, const ElemFormat& y) {
  for (auto [fmt, table] : {std::pair{&x, &value_x_}, std::pair{&y, &value_y_}}) {
    table->resize(size_t{1} << fmt->bits());
    for (uint32_t code = 0; code < table->size(); ++code)
      (*table)[code] = int32_t(operand_value(decode_operand(*fmt, code)));  // below 2^27: see multiply_row
  }
  x_fields_ = code_fields(x);
  // Both below 2^27, so their product is exact in int64.
  narrow_ = largest_magnitude(value_x_) * largest_magnitude(value_y_) < Products::kNarrowBound &&
            acc_bits_ <= Products::kNarrowAccBits;
}

template <class T>
uint64_t Multiplier::multiply_rows(const Operands& in_ops, std::vector<T>& product) {
  product.resize(size_t(rows_) * size_t(cols_));
  uint64_t zero_products;
  if constexpr (std::is_same_v<T, int32_t>)
    zero_products = kernels::multiply_rows(product.data(), in_ops, x_fields_, value_y_.data(), rows_, cols_);
  else
    zero_products = kernels::multiply_rows(product.data(), in_ops, value_x_.data(), value_y_.data(), rows_, cols_);
  if (fault_ == Fault::mul_lsb && in_ops.row_active[0]) product[0] |= 1;  // PE (0,0) bit 0 stuck at 1
  return zero_products;
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
  o.narrow = narrow_;
  uint64_t active_rows = 0;
  for (int r = 0; r < rows_; ++r) active_rows += in_ops.row_active[size_t(r)] != 0;
  stats_->mul += active_rows * uint64_t(in_ops.active_cols);
  stats_->mul_zero += narrow_ ? multiply_rows(in_ops, o.product32) : multiply_rows(in_ops, o.product);
}

}  // namespace mls::hw
