#include "ref/workload/layer_kind.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "ref/workload/conv2d.h"
#include "ref/workload/conv_transpose2d.h"
#include "ref/workload/linear.h"
#include "ref/workload/matmul.h"
#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls {

using nlohmann::json;

std::string to_string(Operand o) {
  switch (o) {
    case Operand::weight: return "weight";
    case Operand::input: return "input";
    case Operand::grad_output: break;
  }
  return "grad_output";
}

Operand x_operand(Pass pass) { return pass == Pass::bwd_weight ? Operand::grad_output : Operand::weight; }
Operand y_operand(Pass pass) { return pass == Pass::bwd_data ? Operand::grad_output : Operand::input; }

LoweredPass LayerKind::lower(Pass pass, const GroupLayout& x_layout, const GroupLayout& y_layout) const {
  if (blocks(pass) != 1)
    throw Error(name() + " " + to_string(pass) + ": the pass has " + std::to_string(blocks(pass)) +
                " blocks; lower them one at a time");
  return lower(pass, 0, x_layout, y_layout);
}

const std::vector<LayerKindEntry>& layer_kinds() {
  // The registry: one line per kind, no self-registration, so the list of
  // kinds is here to read.
  static const std::vector<LayerKindEntry> kinds = {
      {Conv2d::kName, Conv2d::manifest_keys(), &Conv2d::from_manifest, &Conv2d::kSynth},
      {ConvTranspose2d::kName, ConvTranspose2d::manifest_keys(), &ConvTranspose2d::from_manifest},
      {Linear::kName, Linear::manifest_keys(), &Linear::from_manifest, &Linear::kSynth},
      {Matmul::kName, Matmul::manifest_keys(), &Matmul::from_manifest, &Matmul::kSynth},
  };
  return kinds;
}

const LayerKindEntry& find_layer_kind(const std::string& name, const std::string& where) {
  std::string known;
  for (const LayerKindEntry& e : layer_kinds()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw Error(where + ": kind " + quoted_excerpt(name) + " is not supported (only " + known + ")");
}

namespace {

// Values are bounded here, before they meet the tensors, so that no geometry
// computation downstream can overflow.
int bounded_int(const json& v, const std::string& key, int lo, int hi, const std::string& where) {
  if (!v.is_number_integer()) throw Error(where + ": '" + key + "' must be an integer or [h, w], got " + v.type_name());
  const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;
  if (negative || v.get<uint64_t>() < uint64_t(lo) || v.get<uint64_t>() > uint64_t(hi))
    throw Error(where + ": '" + key + "' = " + quoted_excerpt(v.dump()) + " is out of range [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return int(v.get<int64_t>());
}

}  // namespace

std::pair<int, int> manifest_int_pair(const json& entry, const std::string& key, int fallback, int lo, int hi,
                                      const std::string& where) {
  if (!entry.contains(key)) return {fallback, fallback};
  const json& v = entry[key];
  if (v.is_array() && v.size() == 2)
    return {bounded_int(v[0], key, lo, hi, where), bounded_int(v[1], key, lo, hi, where)};
  if (v.is_array()) throw Error(where + ": '" + key + "' must be an integer or [h, w]");
  const int both = bounded_int(v, key, lo, hi, where);
  return {both, both};
}

int manifest_int(const json& entry, const std::string& key, int fallback, int lo, int hi, const std::string& where) {
  if (!entry.contains(key)) return fallback;
  if (!entry[key].is_number_integer())
    throw Error(where + ": '" + key + "' must be an integer, got " + entry[key].type_name());
  return bounded_int(entry[key], key, lo, hi, where);
}

void check_no_empty_dim(const Shape& weight, const Shape& input) {
  for (int64_t d : weight)
    if (d < 1) throw Error("weight shape " + shape_str(weight) + " has an empty dimension");
  for (int64_t d : input)
    if (d < 1) throw Error("input shape " + shape_str(input) + " has an empty dimension");
}

void check_grad_output_shape(const Shape* grad_output, const Shape& want, const Shape& weight, const Shape& input) {
  if (grad_output && *grad_output != want)
    throw Error("grad_output shape " + shape_str(*grad_output) + " should be " + shape_str(want) + " for weight " +
                shape_str(weight) + " and input " + shape_str(input));
}

void check_element_limit(std::initializer_list<int64_t> numels) {
  for (int64_t n : numels)
    if (n >= (int64_t{1} << 31)) throw Error("tensors of 2^31 or more elements are not supported");
}

double relative_l2_error(const TensorF& a, const std::vector<double>& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = double(a.data[i]) - ref[i];
    err += d * d;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? std::sqrt(err / norm) : (err > 0 ? INFINITY : 0.0);
}

std::optional<Grouping> default_grouping(const LayerKind& kind) {
  if (!kind.blocks_by_default()) return std::nullopt;
  return Grouping::blocks(Grouping::kDefaultBlock);
}

}  // namespace mls
