#include "sim/io/trace.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "ref/core/activity.h"
#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/io/file_io.h"
#include "ref/workload/layer_kind.h"
#include "ref/quant/quantizer.h"
#include "ref/io/npy.h"
#include "sim/io/json_file.h"

namespace mls {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::set<std::string> kTopKeys = {"format", "model", "layers", "source", "notes", "vector_ops"};
// The keys of every layer; each kind adds its own (LayerKindEntry::keys).
const std::set<std::string> kCommonLayerKeys = {"name", "kind", "weight", "input", "grad_output"};

constexpr size_t kMaxLayerName = 200;

// A key no kind reads is unknown, whatever the layer's kind; one that only
// another kind reads is refused once the layer's kind is known.
bool any_kind_reads(const std::string& key) {
  for (const LayerKindEntry& kind : layer_kinds())
    if (std::find(kind.keys.begin(), kind.keys.end(), key) != kind.keys.end()) return true;
  return false;
}

void check_keys_of_kind(const json& layer, const LayerKindEntry& kind, const std::string& where) {
  for (const auto& item : layer.items())
    if (!kCommonLayerKeys.count(item.key()) &&
        std::find(kind.keys.begin(), kind.keys.end(), item.key()) == kind.keys.end())
      throw Error(where + ": key " + quoted_excerpt(item.key()) + " does not apply to kind " +
                  quoted_excerpt(kind.name));
}

// Layer names become file names (--outputs DIR/<layer>.<pass>.npy), so they
// are held to what a file name can safely be: letters, digits, '_', '.', '-',
// not starting with '.' or '-' (PyTorch module names always fit).
void check_layer_name(const std::string& name, const std::string& where) {
  if (name.empty()) throw Error(where + ": 'name' is empty");
  if (name.size() > kMaxLayerName)
    throw Error(where + ": 'name' " + quoted_excerpt(name) + " is longer than " + std::to_string(kMaxLayerName) +
                " characters");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      throw Error(where + ": layer name " + quoted_excerpt(name) +
                  " may hold only letters, digits, '_', '.' and '-' (it names output files)");
  if (name[0] == '.' || name[0] == '-')
    throw Error(where + ": layer name " + quoted_excerpt(name) + " must not start with '.' or '-'");
}

// A string-valued key, or `fallback` when absent.
std::string text_key(const json& object, const std::string& key, const std::string& fallback, const std::string& where) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_string()) throw Error(where + ": '" + key + "' must be a string, got " + object[key].type_name());
  return object[key].get<std::string>();
}

std::string tensor_path(const fs::path& root, const json& layer, const std::string& key, const std::string& where) {
  if (!layer[key].is_string()) throw Error(where + ": '" + key + "' must be a file name string");
  const fs::path rel = layer[key].get<std::string>();
  std::error_code ec_full, ec_base;
  const fs::path full = fs::weakly_canonical(root / rel, ec_full);
  const fs::path base = fs::weakly_canonical(root, ec_base);
  if (rel.empty() || ec_full || ec_base)
    throw Error(where + ": '" + key + "' path " + quoted_excerpt(rel.string()) + " is not a usable file name");
  const auto mismatch = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (rel.is_absolute() || mismatch.first != base.end())
    throw Error(where + ": '" + key + "' path " + quoted_excerpt(rel.string()) + " is outside the trace directory");
  return (root / rel).string();
}

// read_npy's errors name the file; a trace's also name the layer. Its bits
// are folded into the layer's running fingerprint `h` and, with `check`, its
// NaNs and Infs found (before anything is simulated or written), block by
// block as it is read.
TensorF read_tensor(const std::string& path, const std::string& tensor, const std::string& where, uint64_t& h,
                    bool check) {
  try {
    std::optional<TensorFingerprint> fp;
    TensorF t = read_npy(path, [&](const Shape& shape, int64_t first, const float* values, size_t count) {
      if (check) check_finite(values, count, first, tensor);
      if (!fp) fp.emplace(h, shape);
      fp->add(values, count);
    });
    h = fp->value();
    return t;
  } catch (const Error& e) {
    throw Error(where + " (" + path + "): " + e.what());
  }
}

// A layer the simulator cannot run: an unsupported kind, parameters its kind
// refuses, or shapes that do not fit them. The run is refused once every
// layer has been read, naming all such layers at once.
struct LayerRefused : Error {
  using Error::Error;
};

// The layer's kind from the registry; the kind parses its own keys.
std::unique_ptr<LayerKind> layer_kind(const json& layer, const std::string& where) {
  try {
    const LayerKindEntry& kind = find_layer_kind(text_key(layer, "kind", kDefaultLayerKind, where), where);
    check_keys_of_kind(layer, kind, where);
    return kind.from_manifest(layer, where);
  } catch (const Error& e) {
    throw LayerRefused(e.what());
  }
}

// An mls-trace/1 manifest predates the other layer kinds: a layer of a known
// kind other than conv2d needs mls-trace/2 (an unknown kind is refused as such).
void check_v1_kind(const json& layer, const std::string& where) {
  if (!layer.is_object() || !layer.contains("kind") || !layer["kind"].is_string()) return;
  const std::string kind = layer["kind"].get<std::string>();
  if (kind == kDefaultLayerKind) return;
  try {
    find_layer_kind(kind, where);
  } catch (const Error&) {
    return;
  }
  throw LayerRefused(where + " of kind '" + kind +
                     "' needs \"format\": \"mls-trace/2\" (an mls-trace/1 trace holds conv2d layers only)");
}

// At most this many items are named in a message that lists them; the rest are counted.
constexpr size_t kNamedInMessage = 5;

// The message for the refused layers: the first few reasons, the count of the
// rest, then the way round.
std::string refusal_message(const std::vector<std::string>& reasons, const Trace& usable) {
  std::string msg = std::to_string(reasons.size()) + (reasons.size() == 1 ? " layer" : " layers") +
                    " cannot be simulated: ";
  for (size_t i = 0; i < reasons.size() && i < kNamedInMessage; ++i) msg += (i ? "; " : "") + reasons[i];
  if (reasons.size() > kNamedInMessage) msg += "; and " + std::to_string(reasons.size() - kNamedInMessage) + " more";
  if (usable.layers.empty()) return msg + "; no other layer is left to run";
  std::string names;
  for (size_t i = 0; i < usable.layers.size() && i < kNamedInMessage; ++i)
    names += (names.empty() ? "" : ",") + usable.layers[i].name;
  if (usable.layers.size() <= kNamedInMessage) return msg + "; run the other layers with --layers " + names;
  return msg + "; run the other " + std::to_string(usable.layers.size()) + " layers by naming them in --layers (" +
         names + ",... and " + std::to_string(usable.layers.size() - kNamedInMessage) + " more)";
}

// Layer-passes of the manifest's layers: 3 with grad_output, 1 without.
void check_layer_passes(const json& layers, const std::string& manifest) {
  size_t passes = 0;
  for (const json& layer : layers)
    passes += layer.is_object() && layer.contains("grad_output") && !layer["grad_output"].is_null() ? 3 : 1;
  if (passes > kMaxTraceLayerPasses)
    throw Error(manifest + ": " + std::to_string(layers.size()) + " layers make " + std::to_string(passes) +
                " layer-passes; a trace may have at most " + std::to_string(kMaxTraceLayerPasses) +
                " (split the trace)");
}

// A tensor of the layer as its .npy header describes it, its data left out.
TensorF shape_only(const std::string& path, const std::string& where) {
  try {
    TensorF t;
    t.shape = read_npy_shape(path);
    return t;
  } catch (const Error& e) {
    throw Error(where + " (" + path + "): " + e.what());
  }
}

// The layer's tensors from the files `files` names (weight, input, then
// grad_output when it has one) into `into`, each checked for NaN and Inf
// with `check`; returns their fingerprint, chained as tensors_fingerprint
// chains it.
uint64_t read_tensors(const LayerTensors& files, LayerTensors& into, const std::string& where, bool check) {
  uint64_t h = kFnv1aOffsetBasis;
  into.weight = read_tensor(files.weight_file, files.name + ".weight", where, h, check);
  into.input = read_tensor(files.input_file, files.name + ".input", where, h, check);
  if (files.grad_output)
    into.grad_output = read_tensor(files.grad_output_file, files.name + ".grad_output", where, h, check);
  return h;
}

// The layer's tensors: read, checked and fingerprinted, or with `checked`
// (another process did that) their shapes alone and the fingerprint it found.
void read_layer_tensors(LayerTensors& t, const CheckedTrace* checked, const std::string& where) {
  if (checked) {
    t.weight = shape_only(t.weight_file, where), t.input = shape_only(t.input_file, where);
    if (t.grad_output) t.grad_output = shape_only(t.grad_output_file, where);
    const auto found = checked->find(t.name);
    if (found == checked->end()) throw Error(where + ": not among the layers the trace's check read");
    t.fingerprint = found->second;
    t.resident = false;
    return;
  }
  t.fingerprint = read_tensors(t, t, where, true);
}

LayerTensors load_layer(const fs::path& root, const json& layer, const std::string& manifest, size_t index,
                        const CheckedTrace* checked) {
  std::string where = manifest + ": layer " + std::to_string(index);
  if (!layer.is_object()) throw Error(where + " is not an object");
  for (const auto& item : layer.items())
    if (!kCommonLayerKeys.count(item.key()) && !any_kind_reads(item.key()))
      throw Error(where + ": unknown key " + quoted_excerpt(item.key()));
  for (const char* key : {"name", "weight", "input"})
    if (!layer.contains(key)) throw Error(where + ": missing key '" + std::string(key) + "'");
  LayerTensors t;
  t.name = text_key(layer, "name", "", where);
  check_layer_name(t.name, where);
  where = manifest + ": layer '" + t.name + "'";
  std::unique_ptr<LayerKind> kind = layer_kind(layer, where);
  t.weight_file = tensor_path(root, layer, "weight", where);
  t.input_file = tensor_path(root, layer, "input", where);
  if (layer.contains("grad_output") && !layer["grad_output"].is_null()) {
    t.grad_output_file = tensor_path(root, layer, "grad_output", where);
    t.grad_output.emplace();
  }
  read_layer_tensors(t, checked, where);
  try {
    bind_layer_kind(t, std::move(kind), where);
  } catch (const Error& e) {
    throw LayerRefused(e.what());
  }
  return t;
}

// Frees a tensor's data, keeping its shape.
void drop_data(TensorF& t) { std::vector<float>().swap(t.data); }

// The manifest parsed and its top level checked (keys, format, a non-empty layer list).
json read_manifest(const std::string& manifest) {
  // The layers are counted before the document is built: 300,000 tiny layers are refused at once.
  JsonBudget budget;
  budget.items_key = "layers";
  budget.max_items = kMaxTraceLayers;
  budget.items_note = "; a trace may have at most " + std::to_string(kMaxTraceLayers) + " layers (split the trace)";
  const json m = parse_json_text<json>(read_input_file(manifest, "trace manifest", kMaxTextFileBytes), manifest, budget);
  if (!m.is_object()) throw Error(manifest + ": the manifest must be a JSON object");
  for (const auto& item : m.items())
    if (!kTopKeys.count(item.key())) throw Error(manifest + ": unknown key " + quoted_excerpt(item.key()));
  // mls-trace/2 adds layer kinds; a /1 manifest reads the same way.
  const std::string format = text_key(m, "format", "", manifest);
  if (format != "mls-trace/1" && format != "mls-trace/2")
    throw Error(manifest + ": 'format' must be \"mls-trace/2\" (or \"mls-trace/1\")");
  if (!m.contains("layers") || !m["layers"].is_array() || m["layers"].empty())
    throw Error(manifest + ": 'layers' must be a non-empty list");
  check_layer_passes(m["layers"], manifest);
  return m;
}

// Every --layers name or pattern matched a layer of the manifest.
void check_wanted_found(const std::vector<std::string>& only, const std::set<std::string>& names,
                        const std::string& manifest) {
  for (const std::string& w : only) {
    const bool matched = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
      return fnmatch(w.c_str(), name.c_str(), 0) == 0;
    });
    if (matched) continue;
    if (w.find_first_of("*?[") == std::string::npos)
      throw Error(manifest + ": no layer named " + quoted_excerpt(w) + " (see --layers)");
    throw Error(manifest + ": no layer matches the pattern " + quoted_excerpt(w) + " (see --layers)");
  }
}

}  // namespace

Trace load_trace(const std::string& dir, const std::vector<std::string>& only, TensorData data,
                 const CheckedTrace* checked) {
  const fs::path root(dir);
  const std::string manifest = (root / "manifest.json").string();
  const Doing doing("reading the trace " + dir);
  const json m = read_manifest(manifest);
  const std::string format = m["format"].get<std::string>();
  Trace trace;
  trace.dir = dir;
  trace.model = text_key(m, "model", "", manifest);
  std::set<std::string> names;
  std::vector<std::string> refused;
  // --layers: names or fnmatch patterns; a layer is loaded when one matches it.
  const auto wanted = [&only](const std::string& name) {
    return only.empty() || std::any_of(only.begin(), only.end(), [&](const std::string& pattern) {
             return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
           });
  };
  for (size_t i = 0; i < m["layers"].size(); ++i) {
    const json& layer = m["layers"][i];
    const std::string name = layer.is_object() && layer.contains("name") && layer["name"].is_string()
                                 ? layer["name"].get<std::string>() : "";
    if (!name.empty() && !names.insert(name).second) throw Error(manifest + ": layer name '" + name + "' repeats");
    if (!wanted(name)) continue;
    try {
      if (format == "mls-trace/1") check_v1_kind(layer, manifest + ": layer " + quoted_excerpt(name));
      trace.layers.push_back(load_layer(root, layer, manifest, i, checked));
      if (data == TensorData::dropped && trace.layers.back().resident) {
        LayerTensors& t = trace.layers.back();
        drop_data(t.weight), drop_data(t.input);
        if (t.grad_output) drop_data(*t.grad_output);
        t.resident = false;
      }
    } catch (const LayerRefused& e) {
      refused.push_back(e.what());
    }
  }
  check_wanted_found(only, names, manifest);
  if (!refused.empty()) throw Error(refusal_message(refused, trace));
  if (m.contains("vector_ops"))
    trace.vector_ops = parse_vector_ops(m["vector_ops"], manifest, std::vector<std::string>(names.begin(), names.end()));
  return trace;
}

LayerTensors load_tensors(const LayerTensors& t) {
  if (t.resident) return t;
  LayerTensors full = t;
  const std::string where = "layer '" + t.name + "'";
  // Only the fingerprint is taken: equal, the bits are those checked when
  // the trace was loaded.
  if (read_tensors(t, full, where, false) != t.fingerprint) {
    std::string files = t.weight_file + ", " + t.input_file;
    if (t.grad_output) files += ", " + t.grad_output_file;
    throw Error(where + " (" + files + "): the tensors changed since the trace was loaded");
  }
  full.resident = true;
  return full;
}

namespace {

constexpr const char* kCheckedFormat = "mlssim-checked-trace/1";

}  // namespace

std::string checked_trace_text(const Trace& trace) {
  json layers = json::object();
  for (const LayerTensors& t : trace.layers) layers[t.name] = hex64(t.fingerprint);
  return json_text(json{{"format", kCheckedFormat}, {"trace", trace.dir}, {"layers", layers}});
}

CheckedTrace read_checked_trace(const std::string& path, const std::string& trace_dir) {
  const json j = read_json_file(path, "checked-trace file");
  if (!j.is_object() || j.value("format", "") != kCheckedFormat || !j.contains("layers") ||
      !j["layers"].is_object())
    throw Error(path + ": not a checked-trace file (" + kCheckedFormat + ")");
  if (j.value("trace", "") != trace_dir)
    throw Error(path + ": checks the trace " + quoted_excerpt(j.value("trace", "")) + ", not " + trace_dir);
  CheckedTrace checked;
  for (const auto& item : j["layers"].items()) {
    const std::string hex = item.value().is_string() ? item.value().get<std::string>() : "";
    const auto digit = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (hex.size() != 16 || !std::all_of(hex.begin(), hex.end(), digit))
      throw Error(path + ": layer " + quoted_excerpt(item.key()) + ": the fingerprint must be 16 hex digits");
    checked[item.key()] = uint64_t(std::stoull(hex, nullptr, 16));
  }
  return checked;
}

}  // namespace mls
