#include "sim/io/document.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/io/json_file.h"

namespace mls {

namespace {

bool is_integer_text(const std::string& t) {
  size_t i = t[0] == '-' || t[0] == '+' ? 1 : 0;
  if (i == t.size()) return false;
  for (; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return false;
  return true;
}

// [-+]? (digits [. digits?] | . digits) ([eE] [-+]? digits)?
bool is_float_text(const std::string& t) {
  size_t i = t[0] == '-' || t[0] == '+' ? 1 : 0, digits = 0;
  auto run = [&] {
    size_t n = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) ++n;
    return n;
  };
  digits += run();
  if (i < t.size() && t[i] == '.') {
    ++i;
    digits += run();
  }
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    if (run() == 0) return false;
  }
  return i == t.size();
}

// Converts a parsed YAML tree, counting values so that aliases, which
// yaml-cpp shares rather than copies, cannot expand without bound.
template <class J>
class YamlConverter {
 public:
  explicit YamlConverter(const std::string& path) : path_(path) {}

  J convert(const YAML::Node& node, int depth = 0) {
    if (++nodes_ > kMaxDocumentNodes)
      fail(node, "more than " + std::to_string(kMaxDocumentNodes) + " values once aliases are expanded");
    if (depth > kMaxDocumentDepth) fail(node, "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels");
    switch (node.Type()) {
      case YAML::NodeType::Map: return map(node, depth);
      case YAML::NodeType::Sequence: {
        J array = J::array();
        for (const auto& item : node) array.push_back(convert(item, depth + 1));
        return array;
      }
      case YAML::NodeType::Scalar: return scalar(node);
      default: return nullptr;
    }
  }

 private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    throw Error(path_ + ":" + std::to_string(node.Mark().line + 1) + ": " + what);
  }

  J map(const YAML::Node& node, int depth) {
    J object = J::object();
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) fail(kv.first, "a key must be a plain name");
      const std::string& key = kv.first.Scalar();
      checked_text(kv.first, key);
      if (object.contains(key)) fail(kv.first, "duplicate key " + quoted_excerpt(key));
      object[key] = convert(kv.second, depth + 1);
    }
    return object;
  }

  const std::string& checked_text(const YAML::Node& node, const std::string& text) const {
    if (!is_valid_utf8(text)) fail(node, "invalid UTF-8 in " + quoted_excerpt(text));
    return text;
  }

  J scalar(const YAML::Node& node) const {
    const std::string& text = checked_text(node, node.Scalar());
    if (node.Tag() != "?") return text;  // quoted: a string whatever it reads as
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    errno = 0;
    if (is_integer_text(text)) {
      const bool negative = text[0] == '-';
      const long long s = negative ? std::strtoll(text.c_str(), nullptr, 10) : 0;
      const unsigned long long u = negative ? 0 : std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE) fail(node, "integer " + quoted_excerpt(text) + " is out of range");
      return negative ? J(int64_t(s)) : J(uint64_t(u));
    }
    if (is_float_text(text)) {
      const double v = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(v)) fail(node, "number " + quoted_excerpt(text) + " is out of range");
      return v;
    }
    return text;
  }

  const std::string& path_;
  size_t nodes_ = 0;
};

template <class J>
J read_any(const std::string& path, const std::string& what) {
  const std::string text = read_input_file(path, what, kMaxTextFileBytes);
  if (std::filesystem::path(path).extension() == ".json") {
    JsonBudget budget;
    budget.max_values = kMaxDocumentNodes;  // as YAML's, counted before the document is built
    return parse_json_text<J>(text, path, budget);
  }
  try {
    return YamlConverter<J>(path).convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw Error(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": not valid YAML: " + one_line(e.msg));
  }
}

}  // namespace

bool is_valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || i + size_t(extra) > text.size() - 1) return false;
    uint32_t code = extra == 0 ? c : c & (0x3f >> extra);
    for (int k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(text[i + size_t(k)]);
      if ((cc >> 6) != 0x2) return false;
      code = (code << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static const uint32_t kMinCode[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinCode[extra] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return false;
    i += size_t(extra) + 1;
  }
  return true;
}

nlohmann::ordered_json read_document(const std::string& path, const std::string& what) {
  return read_any<nlohmann::ordered_json>(path, what);
}

nlohmann::json read_document_unordered(const std::string& path, const std::string& what) {
  return read_any<nlohmann::json>(path, what);
}

}  // namespace mls
