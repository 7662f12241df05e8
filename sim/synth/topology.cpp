#include "sim/synth/topology.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "ref/workload/layer_kind.h"
#include "sim/io/json_sax.h"

namespace mls::synth {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;  // any one dimension
constexpr int kMaxConvParam = 65536;           // as the manifest's stride, padding, dilation

std::string at(const std::string& path, int line, int col) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The trace's rule for layer names (they name files): 1 to 200 of letters,
// digits, '_', '.', '-', not starting with '.' or '-'.
std::string name_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.size() > 200) return "is longer than 200 characters";
  if (name[0] == '.' || name[0] == '-') return "starts with '" + std::string(1, name[0]) + "'";
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return "has " + quoted_excerpt(std::string(1, c)) + " (only letters, digits, _ . - are allowed)";
  return "";
}

// Parses a decimal integer in [lo, hi]; false when `text` is not one.
bool parse_int(const std::string& text, int64_t lo, int64_t hi, int64_t& out) {
  if (text.empty() || text.size() > 12) return false;
  size_t i = text[0] == '-' || text[0] == '+' ? 1 : 0;
  if (i == text.size()) return false;
  int64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    v = v * 10 + (text[i] - '0');
  }
  if (text[0] == '-') v = -v;
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

// ---- SCALE-Sim CSV ----------------------------------------------------------

// SCALE-Sim's convolution columns, in order; later columns are ignored (its own
// files carry extra ones).
const char* const kCsvColumns[] = {"Layer name", "IFMAP Height", "IFMAP Width", "Filter Height",
                                   "Filter Width", "Channels",     "Num Filter",  "Strides"};
constexpr size_t kCsvColumnCount = 8;

struct Field {
  std::string text;  // trimmed
  int col = 1;       // 1-based character column where the field starts
};

std::vector<Field> split_csv_line(const std::string& line, const std::string& where_line) {
  std::vector<Field> fields;
  size_t start = 0;
  while (true) {
    const size_t end = std::min(line.find(',', start), line.size());
    std::string raw = line.substr(start, end - start);
    if (raw.find('"') != std::string::npos)
      throw Error(where_line + ":" + std::to_string(start + 1 + raw.find('"')) +
                  ": quoted fields are not supported in a SCALE-Sim topology");
    size_t b = 0, e = raw.size();
    while (b < e && std::isspace(static_cast<unsigned char>(raw[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(raw[e - 1]))) --e;
    fields.push_back({raw.substr(b, e - b), int(start + b + 1)});
    if (end == line.size()) break;
    start = end + 1;
  }
  return fields;
}

Topology read_csv(const std::string& path, const std::string& text) {
  Topology topo;
  std::set<std::string> names;
  bool header = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where_line = path + ":" + std::to_string(line_no);
    const std::vector<Field> f = split_csv_line(line, where_line);
    if (std::all_of(f.begin(), f.end(), [](const Field& x) { return x.text.empty(); })) continue;
    if (!header) {
      for (size_t c = 0; c < kCsvColumnCount; ++c) {
        const int col = c < f.size() ? f[c].col : int(line.size()) + 1;
        if (c >= f.size() || lower(f[c].text) != lower(kCsvColumns[c]))
          throw Error(at(path, line_no, col) + ": column " + std::to_string(c + 1) + " of a SCALE-Sim topology's header is '" +
                      kCsvColumns[c] + "', got " + quoted_excerpt(c < f.size() ? f[c].text : ""));
      }
      header = true;
      continue;
    }
    if (f.size() < kCsvColumnCount)
      throw Error(at(path, line_no, int(line.size()) + 1) + ": " + std::to_string(f.size()) + " columns, a layer has " +
                  std::to_string(kCsvColumnCount) + " (Layer name, IFMAP Height, IFMAP Width, Filter Height, "
                  "Filter Width, Channels, Num Filter, Strides)");
    TopoLayer l;
    l.name = f[0].text;
    l.where = at(path, line_no, f[0].col);
    if (const std::string bad = name_problem(l.name); !bad.empty())
      throw Error(l.where + ": Layer name " + quoted_excerpt(l.name) + " " + bad);
    if (!names.insert(l.name).second) throw Error(l.where + ": Layer name '" + l.name + "' is repeated");
    int64_t v[kCsvColumnCount] = {};
    for (size_t c = 1; c < kCsvColumnCount; ++c) {
      const int64_t hi = c == 5 || c == 6 ? kMaxDim : kMaxConvParam;
      if (!parse_int(f[c].text, 1, hi, v[c]))
        throw Error(at(path, line_no, f[c].col) + ": " + kCsvColumns[c] + " must be an integer in [1, " +
                    std::to_string(hi) + "], got " + quoted_excerpt(f[c].text));
    }
    for (size_t c : {3, 4})
      if (v[c] > v[c - 2])
        throw Error(at(path, line_no, f[c].col) + ": " + kCsvColumns[c] + " " + std::to_string(v[c]) + " exceeds " +
                    kCsvColumns[c - 2] + " " + std::to_string(v[c - 2]) +
                    " (a SCALE-Sim convolution has no padding: the IFMAP includes it)");
    l.input = {v[5], v[1], v[2]};
    l.weight = {v[6], v[5], v[3], v[4]};
    l.stride = {int(v[7]), int(v[7])};
    l.input_dist = topo.layers.empty() ? InputDist::normal : InputDist::relu;
    topo.layers.push_back(std::move(l));
  }
  if (!header) throw Error(path + ":1:1: no header line (a SCALE-Sim topology starts with 'Layer name, IFMAP Height, ...')");
  if (topo.layers.empty()) throw Error(at(path, line_no + 1, 1) + ": no layers after the header");
  const std::string stem = std::filesystem::path(path).stem().string();
  topo.model = name_problem(stem).empty() ? stem : "topology";
  return topo;
}

// ---- JSON / YAML ------------------------------------------------------------

std::string where_of(const std::string& path, const YAML::Node& n) {
  return at(path, n.Mark().line + 1, n.Mark().column + 1);
}

std::string scalar(const std::string& path, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) throw Error(where_of(path, n) + ": " + what + " must be a string");
  return n.Scalar();
}

int64_t integer(const std::string& path, const YAML::Node& n, const std::string& what, int64_t lo, int64_t hi) {
  int64_t v = 0;
  if (!n.IsScalar() || !parse_int(n.Scalar(), lo, hi, v))
    throw Error(where_of(path, n) + ": " + what + " must be an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]" + (n.IsScalar() ? ", got " + quoted_excerpt(n.Scalar()) : ""));
  return v;
}

std::array<int, 2> int_pair(const std::string& path, const YAML::Node& n, const std::string& what, int lo) {
  if (n.IsSequence()) {
    if (n.size() != 2) throw Error(where_of(path, n) + ": " + what + " must be an integer or [h, w]");
    return {int(integer(path, n[0], what, lo, kMaxConvParam)), int(integer(path, n[1], what, lo, kMaxConvParam))};
  }
  const int v = int(integer(path, n, what, lo, kMaxConvParam));
  return {v, v};
}

Shape shape_of(const std::string& path, const YAML::Node& n, const std::string& what, size_t min_rank,
               size_t max_rank) {
  const std::string rank = min_rank == max_rank ? std::to_string(min_rank)
                                                : std::to_string(min_rank) + " to " + std::to_string(max_rank);
  if (!n.IsSequence() || n.size() < min_rank || n.size() > max_rank)
    throw Error(where_of(path, n) + ": " + what + " must be a shape, a list of " + rank + " dimensions");
  Shape s;
  for (const YAML::Node& d : n) s.push_back(integer(path, d, what + " dimension", 1, kMaxDim));
  return s;
}

bool boolean(const std::string& path, const YAML::Node& n, const std::string& what) {
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
  throw Error(where_of(path, n) + ": " + what + " must be true or false");
}

// Checks a map's keys: known ones only, each once; returns them by name.
std::map<std::string, YAML::Node> keys_of(const std::string& path, const YAML::Node& map,
                                          const std::set<std::string>& known, const std::string& what) {
  std::map<std::string, YAML::Node> out;
  for (const auto& kv : map) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (!known.count(key)) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(where_of(path, kv.first) + ": unknown key " + quoted_excerpt(key) + " in " + what + " (known: " +
                  list + ")");
    }
    if (!out.emplace(key, kv.second).second)
      throw Error(where_of(path, kv.first) + ": key '" + key + "' repeated in " + what);
  }
  return out;
}

// The kinds synth can make, as an error lists them: "a, b or c".
std::string synthesizable_kinds() {
  std::vector<std::string> names;
  for (const LayerKindEntry& e : layer_kinds())
    if (e.synth) names.push_back(e.name);
  std::string list;
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return list;
}

TopoLayer read_layer(const std::string& path, const YAML::Node& n, bool first) {
  if (!n.IsMap()) throw Error(where_of(path, n) + ": a layer must be an object");
  const auto k = keys_of(path, n,
                         {"name", "kind", "weight", "input", "grad_output", "stride", "padding", "dilation", "groups",
                          "input_dist"},
                         "a layer");
  TopoLayer l;
  l.where = where_of(path, n);
  for (const char* req : {"name", "weight", "input"})
    if (!k.count(req)) throw Error(l.where + ": a layer needs '" + req + "'");
  l.name = scalar(path, k.at("name"), "name");
  if (const std::string bad = name_problem(l.name); !bad.empty())
    throw Error(where_of(path, k.at("name")) + ": layer name " + quoted_excerpt(l.name) + " " + bad);
  if (k.count("kind")) l.kind = scalar(path, k.at("kind"), "kind");
  const SynthRules* rules = synth_rules_of(l.kind);
  if (!rules)
    throw Error(where_of(path, k.at("kind")) + ": kind " + quoted_excerpt(l.kind) + "' cannot be synthesized (" +
                synthesizable_kinds() + ")");
  l.weight = shape_of(path, k.at("weight"), rules->weight_what, rules->weight_min_rank, rules->weight_max_rank);
  l.input = shape_of(path, k.at("input"), rules->input_what, rules->input_min_rank, rules->input_max_rank);
  const std::vector<std::string>& own_keys = find_layer_kind(l.kind, l.where).keys;
  for (const char* key : {"stride", "padding", "dilation", "groups"})
    if (k.count(key) && std::find(own_keys.begin(), own_keys.end(), key) == own_keys.end())
      throw Error(where_of(path, k.at(key)) + ": '" + key + "' is a conv2d key; a " + l.kind + " layer takes none");
  if (k.count("stride")) l.stride = int_pair(path, k.at("stride"), "stride", 1);
  if (k.count("padding")) l.padding = int_pair(path, k.at("padding"), "padding", 0);
  if (k.count("dilation")) l.dilation = int_pair(path, k.at("dilation"), "dilation", 1);
  if (k.count("groups")) l.groups = int(integer(path, k.at("groups"), "groups", 1, kMaxDim));
  if (k.count("grad_output")) l.grad_output = boolean(path, k.at("grad_output"), "grad_output");
  l.input_dist = rules->relu_after_first && !first ? InputDist::relu : InputDist::normal;
  if (k.count("input_dist")) {
    const std::string d = scalar(path, k.at("input_dist"), "input_dist");
    if (d != "relu" && d != "normal")
      throw Error(where_of(path, k.at("input_dist")) + ": input_dist must be 'relu' or 'normal', got " +
                  quoted_excerpt(d));
    l.input_dist = d == "relu" ? InputDist::relu : InputDist::normal;
  }
  return l;
}

// The key path of the value a JSON parse stopped at ("layers[2].weight[1]"),
// kept by a SAX handler so that a number out of range (1e400, which nlohmann
// refuses with an out_of_range, not a parse_error) names its key and place.
class JsonSyntaxCheck : public JsonSaxWalk {
 public:
  bool parse_error(std::size_t offset, const std::string& token, const nlohmann::json::exception& e) override {
    // A syntax error knows its byte (1-based); a number out of range ends at `offset`.
    const auto* syntax = dynamic_cast<const nlohmann::json::parse_error*>(&e);
    offset_ = syntax && syntax->byte > 0 ? syntax->byte - 1 : offset >= token.size() ? offset - token.size() : 0;
    token_ = token;
    number_out_of_range_ = e.id == 406;
    what_ = e.what();
    return false;
  }
  size_t offset_ = 0;
  std::string token_, what_;
  bool number_out_of_range_ = false;
};

// "<path>:<line>:<column>" of a byte offset in text.
std::string at_offset(const std::string& path, const std::string& text, size_t offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return at(path, line, col);
}

// A .json file is first parsed as strict JSON (YAML would accept `{"a": }`);
// the error's byte offset becomes its line and column.
void check_json_syntax(const std::string& path, const std::string& text) {
  JsonSyntaxCheck check;
  if (nlohmann::json::sax_parse(text, &check, nlohmann::json::input_format_t::json, true)) return;
  if (check.too_deep()) throw Error(at(path, 1, 1) + ": nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  const std::string where = at_offset(path, text, check.offset_);
  const std::string key = check.path().empty() ? "" : " " + check.path() + ":";
  if (check.number_out_of_range_)
    throw Error(where + ":" + key + " number " + quoted_excerpt(check.token_) +
                " is out of range (not a finite double)");
  const size_t colon = check.what_.rfind(": ");
  throw Error(where + ": not valid JSON: " + (colon == std::string::npos ? check.what_ : check.what_.substr(colon + 2)));
}

Topology read_document(const std::string& path, const std::string& text) {
  if (path.size() >= 5 && lower(path.substr(path.size() - 5)) == ".json") check_json_syntax(path, text);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(at(path, e.mark.line + 1, e.mark.column + 1) + ": not valid JSON or YAML: " + e.msg);
  }
  if (!root.IsMap()) throw Error(at(path, 1, 1) + ": a topology is an object with 'layers' (and 'model')");
  const auto k = keys_of(path, root, {"model", "layers", "notes", "source"}, "the topology");
  if (!k.count("layers") || !k.at("layers").IsSequence() || k.at("layers").size() == 0)
    throw Error((k.count("layers") ? where_of(path, k.at("layers")) : at(path, 1, 1)) +
                ": 'layers' must be a non-empty list of layers");
  Topology topo;
  topo.model = "topology";
  if (k.count("model")) topo.model = scalar(path, k.at("model"), "model");
  std::set<std::string> names;
  for (const YAML::Node& n : k.at("layers")) {
    TopoLayer l = read_layer(path, n, topo.layers.empty());
    if (!names.insert(l.name).second) throw Error(l.where + ": layer name '" + l.name + "' is repeated");
    topo.layers.push_back(std::move(l));
  }
  return topo;
}

}  // namespace

Topology read_topology(const std::string& path) {
  const std::string text = read_input_file(path, "topology", kMaxTextFileBytes);
  const bool csv = path.size() >= 4 && lower(path.substr(path.size() - 4)) == ".csv";
  Topology topo = csv ? read_csv(path, text) : read_document(path, text);
  for (const TopoLayer& l : topo.layers) layer_shapes(l, 1);  // geometry errors before anything is written
  return topo;
}

const SynthRules* synth_rules_of(const std::string& kind) {
  for (const LayerKindEntry& e : layer_kinds())
    if (e.name == kind) return e.synth;
  return nullptr;
}

nlohmann::json manifest_params(const TopoLayer& l) {
  nlohmann::json entry = nlohmann::json::object();
  for (const std::string& key : find_layer_kind(l.kind, l.where).keys) {
    if (key == "stride") entry[key] = l.stride;
    if (key == "padding") entry[key] = l.padding;
    if (key == "dilation") entry[key] = l.dilation;
    if (key == "groups") entry[key] = l.groups;
  }
  return entry;
}

LayerShapes layer_shapes(const TopoLayer& l, int64_t batch) {
  const SynthRules& rules = *synth_rules_of(l.kind);
  LayerShapes s;
  s.weight = l.weight;
  s.input = l.input;
  s.input.insert(s.input.begin(), batch);
  if (rules.weight_batched) s.weight.insert(s.weight.begin(), batch);
  const nlohmann::json entry = manifest_params(l);
  const std::string where = l.where + ": layer '" + l.name + "'";
  s.grad_output = rules.output_shape(s.weight, s.input, entry, where);
  for (const Shape* t : {&s.weight, &s.input, &s.grad_output}) {
    int64_t n = 1;
    for (int64_t d : *t) {
      if (n > int64_t(kMaxTensorFileBytes / 4) / d)
        throw Error(where + ": a tensor of shape " + shape_str(*t) + " exceeds the " +
                    std::to_string(kMaxTensorFileBytes >> 30) + " GiB a trace tensor may have");
      n *= d;
    }
  }
  // The kind's own geometry rules, exactly as the trace loader applies them.
  try {
    std::unique_ptr<LayerKind> kind = find_layer_kind(l.kind, where).from_manifest(entry, where);
    kind->bind(s.weight, s.input, &s.grad_output);
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind(where, 0) == 0 ? what : where + ": " + what);
  }
  return s;
}

}  // namespace mls::synth
