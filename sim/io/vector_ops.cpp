#include "sim/io/vector_ops.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "ref/core/error.h"
#include "ref/core/excerpt.h"

namespace mls {

namespace {

constexpr size_t kMaxVectorOpDims = 8;
constexpr int64_t kMaxVectorOpElements = int64_t(1) << 40;

const std::vector<std::pair<const char*, VectorOpKind>>& op_names() {
  static const std::vector<std::pair<const char*, VectorOpKind>> names = {
      {"softmax", VectorOpKind::softmax},       {"layer_norm", VectorOpKind::layer_norm},
      {"batch_norm", VectorOpKind::batch_norm}, {"activation", VectorOpKind::activation},
      {"residual_add", VectorOpKind::residual_add}};
  return names;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string text_of(const nlohmann::json& entry, const char* key) {
  if (!entry.contains(key)) throw Error(std::string("missing key '") + key + "'");
  if (!entry[key].is_string() || entry[key].get<std::string>().empty())
    throw Error(std::string("'") + key + "' must be a non-empty string, got " + quoted_excerpt(entry[key].dump()));
  return entry[key].get<std::string>();
}

VectorOpKind op_of(const nlohmann::json& entry) {
  const std::string op = text_of(entry, "op");
  for (const auto& [name, kind] : op_names())
    if (op == name) return kind;
  std::vector<std::string> known;
  for (const auto& n : op_names()) known.push_back(n.first);
  throw Error("unknown op " + quoted_excerpt(op) + " (known: " + joined(known) + ")");
}

Shape shape_of(const nlohmann::json& entry) {
  if (!entry.contains("shape")) throw Error("missing key 'shape'");
  const nlohmann::json& s = entry["shape"];
  if (!s.is_array() || s.empty() || s.size() > kMaxVectorOpDims)
    throw Error("'shape' must be a list of 1 to 8 positive integers, got " + quoted_excerpt(s.dump()));
  Shape shape;
  int64_t elements = 1;
  for (const nlohmann::json& d : s) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxVectorOpElements)
      throw Error("'shape' must be a list of 1 to 8 positive integers, got " + quoted_excerpt(s.dump()));
    shape.push_back(d.get<int64_t>());
    if (elements > kMaxVectorOpElements / shape.back())
      throw Error("'shape' " + quoted_excerpt(s.dump()) + " has more than 2^40 elements");
    elements *= shape.back();
  }
  return shape;
}

std::string after_of(const nlohmann::json& entry, const std::set<std::string>& layers) {
  if (!entry.contains("after")) throw Error("missing key 'after' (a layer name, or null)");
  if (entry["after"].is_null()) return "";
  const std::string after = text_of(entry, "after");
  if (!layers.count(after)) throw Error("'after' names no layer of the trace: " + quoted_excerpt(after));
  return after;
}

VectorOp parse_one(const nlohmann::json& entry, const std::set<std::string>& layers) {
  if (!entry.is_object()) throw Error("must be an object with name, op, shape and after");
  for (const auto& item : entry.items())
    if (item.key() != "name" && item.key() != "op" && item.key() != "fn" && item.key() != "shape" &&
        item.key() != "after")
      throw Error("unknown key " + quoted_excerpt(item.key()) + " (known: name, op, fn, shape, after)");
  VectorOp v;
  v.name = text_of(entry, "name");
  v.op = op_of(entry);
  if (v.op == VectorOpKind::activation) {
    v.fn = text_of(entry, "fn");
    const auto& known = vector_activation_names();
    if (std::find(known.begin(), known.end(), v.fn) == known.end())
      throw Error("unknown activation fn " + quoted_excerpt(v.fn) + " (known: " + joined(known) + ")");
  } else if (entry.contains("fn")) {
    throw Error("'fn' is for op activation only");
  }
  v.shape = shape_of(entry);
  v.after = after_of(entry, layers);
  return v;
}

}  // namespace

const std::vector<std::string>& vector_activation_names() {
  static const std::vector<std::string> names = {
      "relu",  "relu6", "leaky_relu", "prelu",    "rrelu", "hardtanh", "hardsigmoid", "hardswish", "sigmoid", "tanh",
      "silu",  "gelu",  "elu",        "celu",     "selu",  "mish",     "softplus",    "softsign",  "logsigmoid", "glu"};
  return names;
}

std::string to_string(VectorOpKind op) {
  for (const auto& [name, kind] : op_names())
    if (kind == op) return name;
  return "?";
}

std::vector<VectorOp> parse_vector_ops(const nlohmann::json& list, const std::string& manifest,
                                       const std::vector<std::string>& layers) {
  if (!list.is_array()) throw Error(manifest + ": 'vector_ops' must be a list of vector ops");
  if (list.size() > kMaxVectorOps)
    throw Error(manifest + ": 'vector_ops' lists " + std::to_string(list.size()) + " ops; at most " +
                std::to_string(kMaxVectorOps) + " are allowed");
  const std::set<std::string> names(layers.begin(), layers.end());
  std::set<std::string> seen;
  std::vector<VectorOp> ops;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = manifest + ": vector_ops[" + std::to_string(i) + "]";
    const nlohmann::json& entry = list[i];
    if (entry.is_object() && entry.contains("name") && entry["name"].is_string())
      where += " (" + quoted_excerpt(entry["name"].get<std::string>()) + ")";
    try {
      ops.push_back(parse_one(entry, names));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (!seen.insert(ops.back().name).second) throw Error(where + ": the name repeats an earlier vector op's");
  }
  return ops;
}

}  // namespace mls
