#pragma once
// The vector unit's work in a layer-pass (docs/energy.md#vector-work), the
// last part of the statistics registry (stats.h): the non-product work the
// trace implies beside the array, counted from shapes, not simulated. The
// quantizer's work on every operand the pass quantizes (MLS: one max-abs
// compare and one rounding per element, one scale per group and per tensor),
// and the fp32 operations of the manifest's vector ops (softmax, norms,
// activations, residual adds) attributed to this layer-pass.
#include <cstdint>
#include <iterator>

#include <nlohmann/json_fwd.hpp>

namespace mls::hw {

struct VectorWork {
  uint64_t quant_elements = 0;  // elements quantized (each: a max-abs compare, a rounding)
  uint64_t quant_groups = 0;    // group scales computed
  uint64_t quant_tensors = 0;   // tensor scales computed
  uint64_t vec_add = 0;         // fp32 adds, subtracts and compares of the vector ops
  uint64_t vec_mul = 0;
  uint64_t vec_div = 0;
  uint64_t vec_exp = 0;         // fp32 exp and log
  uint64_t vec_rsqrt = 0;

  VectorWork& operator+=(const VectorWork& o);
  bool operator==(const VectorWork& o) const;
};

struct VectorInfo {
  const char* key;               // its key in the report's "vector"
  uint64_t VectorWork::*field;
  const char* unit;
  const char* description;
};

inline constexpr VectorInfo kVectorTable[] = {
    {"quant_elements", &VectorWork::quant_elements, "elements",
     "elements the pass quantizes (operands first used by this pass, and re-quantized ones): one max-abs compare "
     "and one rounding each"},
    {"quant_groups", &VectorWork::quant_groups, "group scales", "group scales the pass's quantizations compute"},
    {"quant_tensors", &VectorWork::quant_tensors, "tensor scales", "tensor scales the pass's quantizations compute"},
    {"vec_add", &VectorWork::vec_add, "fp32 operations",
     "adds, subtracts and compares of the vector ops attributed to the layer-pass"},
    {"vec_mul", &VectorWork::vec_mul, "fp32 operations", "multiplies of the vector ops"},
    {"vec_div", &VectorWork::vec_div, "fp32 operations", "divides of the vector ops"},
    {"vec_exp", &VectorWork::vec_exp, "fp32 operations", "exponentials and logarithms of the vector ops"},
    {"vec_rsqrt", &VectorWork::vec_rsqrt, "fp32 operations", "reciprocal square roots of the vector ops (norms)"},
};
static_assert(sizeof(VectorWork) == std::size(kVectorTable) * sizeof(uint64_t), "every VectorWork field needs a row");

inline VectorWork& VectorWork::operator+=(const VectorWork& o) {
  for (const VectorInfo& v : kVectorTable) this->*v.field += o.*v.field;
  return *this;
}
inline bool VectorWork::operator==(const VectorWork& o) const {
  for (const VectorInfo& v : kVectorTable)
    if (this->*v.field != o.*v.field) return false;
  return true;
}

// {"quant_elements": n, ...}: every row's key.
nlohmann::json vector_json(const VectorWork& v);
// stats_info's "vector" block: {key: {"unit", "description"}}.
nlohmann::json vector_info_json();

}  // namespace mls::hw
