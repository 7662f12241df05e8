#include "sim/run/layer_config.h"

#include <fnmatch.h>

#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/io/document.h"

namespace mls {

using ojson = nlohmann::ordered_json;

namespace {

// A parameter an entry may set: the quantizer's (formats, rounding, seed,
// clip) and the per-operand formats. Array parameters are the array's, which
// is elaborated once per run.
const params::Param* layer_param(const std::string& key) {
  const params::Param* p = params::find(key);
  return p && (p->group == params::Group::quant || p->group == params::Group::operand) ? p : nullptr;
}

std::string value_text(const params::Param& p, const ojson& v) {
  if (p.kind == params::Kind::boolean) {
    if (!v.is_boolean()) throw Error("expected true or false, got " + quoted_excerpt(v.dump()));
    return v.get<bool>() ? "true" : "false";
  }
  if (p.kind == params::Kind::integer && v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (p.kind == params::Kind::integer && v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (!v.is_string()) throw Error("expected a string, got " + quoted_excerpt(v.dump()));
  return v.get<std::string>();
}

std::vector<Pass> passes_of(const ojson& v) {
  std::vector<std::string> names;
  if (v.is_string()) {
    std::string item;
    for (char c : v.get<std::string>() + ",") {
      if (c != ',') {
        item += c;
      } else if (!item.empty()) {
        names.push_back(item);
        item.clear();
      }
    }
  } else if (v.is_array()) {
    for (const ojson& item : v) {
      if (!item.is_string()) throw Error("expected pass names, got " + quoted_excerpt(item.dump()));
      names.push_back(item.get<std::string>());
    }
  } else {
    throw Error("expected a list of passes, got " + quoted_excerpt(v.dump()));
  }
  std::vector<Pass> out;
  for (const std::string& n : names) out.push_back(parse_pass(n));
  if (out.empty()) throw Error("lists no pass");
  return out;
}

}  // namespace

std::string layer_config_keys() {
  std::string keys;
  for (const params::Param& p : params::table())
    if (layer_param(p.name)) keys += std::string(p.name) + ", ";
  return keys + "passes, unquantized";
}

namespace {

// Each entry checked alone first, so the message names its pattern and key.
void check_entries(const std::string& path, const ojson& doc, const RunConfig& base) {
  for (const auto& entry : doc.items()) {
    const std::string where = path + ": " + entry.key();
    if (entry.key().empty()) throw Error(path + ": an empty layer name or pattern");
    if (!entry.value().is_object()) throw Error(where + ": expected a map of settings, got " +
                                                quoted_excerpt(entry.value().dump()));
    for (const auto& item : entry.value().items()) {
      const std::string at = where + "." + item.key();
      try {
        if (item.key() == "passes") {
          passes_of(item.value());
        } else if (item.key() == "unquantized") {
          if (!item.value().is_boolean())
            throw Error("expected true or false, got " + quoted_excerpt(item.value().dump()));
        } else if (const params::Param* p = layer_param(item.key())) {
          RunConfig scratch = base;
          params::set(scratch, *p, value_text(*p, item.value()));
        } else if (params::find(item.key())) {
          throw Error("not a per-layer key: it applies to the whole run (per-layer keys: " + layer_config_keys() + ")");
        } else {
          throw Error("unknown key (known: " + layer_config_keys() + ")");
        }
      } catch (const Error& e) {
        throw Error(at + ": " + e.what());
      }
    }
  }
}

// The settings of `layer`: every matching entry applied in the file's order
// on top of the command line's; nullopt when none matches.
std::optional<LayerSettings> settings_of(const std::string& path, const ojson& doc, const std::string& layer,
                                         const RunConfig& base, const std::vector<Pass>& passes,
                                         std::set<std::string>& used) {
  RunConfig cfg = base;
  LayerSettings s;
  s.passes = passes;
  bool matched = false;
  for (const auto& entry : doc.items()) {
    if (fnmatch(entry.key().c_str(), layer.c_str(), 0) != 0) continue;
    matched = true;
    used.insert(entry.key());
    for (const auto& item : entry.value().items()) {
      s.group_set = s.group_set || item.key().rfind("group", 0) == 0;
      if (item.key() == "passes")
        s.passes = passes_of(item.value());
      else if (item.key() == "unquantized")
        s.unquantized = item.value().get<bool>();
      else
        params::set(cfg, *layer_param(item.key()), value_text(*layer_param(item.key()), item.value()));
    }
  }
  if (!matched) return std::nullopt;
  try {
    params::validate(cfg);
  } catch (const Error& e) {
    throw Error(path + ": layer " + layer + ": " + e.what());
  }
  s.quant = cfg.mls.quant;
  return s;
}

}  // namespace

std::map<std::string, LayerSettings> load_layer_config(const std::string& path, const std::vector<std::string>& layers,
                                                       const RunConfig& base, const std::vector<Pass>& passes) {
  const ojson doc = read_document(path, "layer config");
  if (!doc.is_object())
    throw Error(path + ": expected a map from layer names or patterns to settings");
  check_entries(path, doc, base);
  std::map<std::string, LayerSettings> out;
  std::set<std::string> used;  // patterns that matched a layer of this run
  for (const std::string& layer : layers)
    if (std::optional<LayerSettings> s = settings_of(path, doc, layer, base, passes, used)) out[layer] = *s;
  // Not an error: one file may serve runs of different --layers. But a typo
  // must not pass unseen.
  for (const auto& entry : doc.items())
    if (!used.count(entry.key()))
      std::cerr << "warning: " << path << ": pattern " << quoted_excerpt(entry.key())
                << " matches no layer of this run\n";
  return out;
}

std::map<std::string, Grouping> default_groupings(const std::vector<LayerTensors>& layers) {
  std::map<std::string, Grouping> out;
  for (const LayerTensors& t : layers)
    if (t.kind)
      if (const std::optional<Grouping> g = default_grouping(*t.kind)) out.emplace(t.name, *g);
  return out;
}

PerOperand<QuantConfig> layer_formats(const std::string& layer, const PerOperand<QuantConfig>& run,
                                      const std::map<std::string, LayerSettings>& settings,
                                      const std::map<std::string, Grouping>& defaults) {
  const auto own = settings.find(layer);
  PerOperand<QuantConfig> quant = own == settings.end() ? run : own->second.quant;
  const auto fallback = defaults.find(layer);
  if (fallback == defaults.end() || (own != settings.end() && own->second.group_set)) return quant;
  quant.for_each([&](QuantConfig& q) { q.group = fallback->second; });
  return quant;
}

void mark_unquantized(const std::string& list, const std::vector<std::string>& layers, const std::string& classifier,
                      const RunConfig& base, const std::vector<Pass>& passes,
                      std::map<std::string, LayerSettings>& settings) {
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    if (item.empty() || item == "none" || (item == "classifier" && classifier.empty())) continue;
    std::vector<std::string> matched;
    if (item == "classifier") matched.push_back(classifier);
    if (item == "first" || item == "last") {
      if (!layers.empty()) matched.push_back(item == "first" ? layers.front() : layers.back());
    } else if (item != "classifier") {
      for (const std::string& layer : layers)
        if (fnmatch(item.c_str(), layer.c_str(), 0) == 0) matched.push_back(layer);
    }
    if (matched.empty()) throw Error("--unquantized: " + item + " matches no layer of the trace");
    for (const std::string& layer : matched) {
      auto [it, added] = settings.try_emplace(layer);
      if (added) {
        it->second.quant = base.mls.quant;
        it->second.passes = passes;
      }
      it->second.unquantized = true;
    }
  }
}

}  // namespace mls
