#include "sim/trace.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "ref/error.h"
#include "ref/npy.h"
#include "sim/json_file.h"

namespace mls {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::set<std::string> kTopKeys = {"format", "model", "layers", "source", "notes"};
const std::set<std::string> kLayerKeys = {"name",   "kind",   "stride", "padding",    "dilation",
                                          "groups", "weight", "input",  "grad_output"};

// [h, w] or a single integer.
std::pair<int, int> pair_of(const json& layer, const std::string& key, int fallback, const std::string& where) {
  if (!layer.contains(key)) return {fallback, fallback};
  const json& v = layer[key];
  if (v.is_number_integer()) return {v.get<int>(), v.get<int>()};
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
    return {v[0].get<int>(), v[1].get<int>()};
  throw Error(where + ": '" + key + "' must be an integer or [h, w], got " + v.dump());
}

std::string tensor_path(const fs::path& root, const json& layer, const std::string& key, const std::string& where) {
  if (!layer[key].is_string()) throw Error(where + ": '" + key + "' must be a file name string");
  const fs::path rel = layer[key].get<std::string>();
  const fs::path full = fs::weakly_canonical(root / rel);
  const fs::path base = fs::weakly_canonical(root);
  const auto mismatch = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (rel.is_absolute() || mismatch.first != base.end())
    throw Error(where + ": '" + key + "' path '" + rel.string() + "' is outside the trace directory");
  return (root / rel).string();
}

// read_npy's errors name the file; a trace's also name the layer.
TensorF read_tensor(const std::string& path, const std::string& where) {
  try {
    return read_npy(path);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

LayerTensors load_layer(const fs::path& root, const json& layer, const std::string& manifest, size_t index) {
  std::string where = manifest + ": layer " + std::to_string(index);
  if (!layer.is_object()) throw Error(where + " is not an object");
  for (const auto& item : layer.items())
    if (!kLayerKeys.count(item.key())) throw Error(where + ": unknown key '" + item.key() + "'");
  for (const char* key : {"name", "weight", "input"})
    if (!layer.contains(key)) throw Error(where + ": missing key '" + std::string(key) + "'");
  if (!layer["name"].is_string()) throw Error(where + ": 'name' must be a string");
  LayerTensors t;
  t.name = layer["name"].get<std::string>();
  where = manifest + ": layer '" + t.name + "'";
  if (layer.value("kind", std::string("conv2d")) != "conv2d")
    throw Error(where + ": kind " + layer["kind"].dump() + " is not supported (only conv2d)");
  if (layer.contains("groups") && layer["groups"] != 1)
    throw Error(where + ": groups = " + layer["groups"].dump() + " is not supported (only 1)");
  const auto stride = pair_of(layer, "stride", 1, where), padding = pair_of(layer, "padding", 0, where),
             dilation = pair_of(layer, "dilation", 1, where);
  t.params = {stride.first, stride.second, padding.first, padding.second, dilation.first, dilation.second};
  t.weight_file = tensor_path(root, layer, "weight", where);
  t.input_file = tensor_path(root, layer, "input", where);
  t.weight = read_tensor(t.weight_file, where);
  t.input = read_tensor(t.input_file, where);
  if (layer.contains("grad_output") && !layer["grad_output"].is_null()) {
    t.grad_output_file = tensor_path(root, layer, "grad_output", where);
    t.grad_output = read_tensor(t.grad_output_file, where);
  }
  try {
    conv_geometry(t.weight.shape, t.input.shape, t.params, t.grad_output ? &t.grad_output->shape : nullptr);
  } catch (const Error& e) {
    std::string files = t.weight_file + ", " + t.input_file + (t.grad_output ? ", " + t.grad_output_file : "");
    throw Error(where + " (" + files + "): " + e.what());
  }
  return t;
}

}  // namespace

Trace load_trace(const std::string& dir, const std::vector<std::string>& only) {
  const fs::path root(dir);
  const std::string manifest = (root / "manifest.json").string();
  const json m = read_json_file(manifest, " (is this a trace directory?)");
  if (!m.is_object()) throw Error(manifest + ": the manifest must be a JSON object");
  for (const auto& item : m.items())
    if (!kTopKeys.count(item.key())) throw Error(manifest + ": unknown key '" + item.key() + "'");
  if (m.value("format", std::string()) != "mls-trace/1")
    throw Error(manifest + ": 'format' must be \"mls-trace/1\"");
  if (!m.contains("layers") || !m["layers"].is_array() || m["layers"].empty())
    throw Error(manifest + ": 'layers' must be a non-empty list");
  Trace trace;
  trace.dir = dir;
  trace.model = m.contains("model") && m["model"].is_string() ? m["model"].get<std::string>() : "";
  std::set<std::string> wanted(only.begin(), only.end()), names;
  for (size_t i = 0; i < m["layers"].size(); ++i) {
    const json& layer = m["layers"][i];
    const std::string name = layer.is_object() && layer.contains("name") && layer["name"].is_string()
                                 ? layer["name"].get<std::string>() : "";
    if (!name.empty() && !names.insert(name).second) throw Error(manifest + ": layer name '" + name + "' repeats");
    if (!wanted.empty() && !wanted.count(name)) continue;
    trace.layers.push_back(load_layer(root, layer, manifest, i));
  }
  for (const std::string& w : wanted)
    if (!names.count(w)) throw Error(manifest + ": no layer named '" + w + "' (see --layers)");
  return trace;
}

}  // namespace mls
