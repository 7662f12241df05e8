#pragma once
// The one reader of configuration documents (sweep files, energy tables): a
// file ending in .json is JSON, anything else YAML; both become JSON values, so
// one validator serves both forms.
//
// YAML follows the 1.2 core schema: a plain scalar that reads fully as an
// integer, float, boolean or null becomes one; a quoted scalar stays a string.
// Refused with "<file>:<line>: ..." errors: duplicate keys, invalid UTF-8,
// numbers out of range, nesting deeper than kMaxDocumentDepth, and documents
// of more than kMaxDocumentNodes values once aliases are expanded (a YAML
// "billion laughs" file; a JSON file's values are counted before it is built). The file itself is limited to kMaxTextFileBytes.
#include <nlohmann/json.hpp>
#include <string>

namespace mls {

constexpr size_t kMaxDocumentNodes = 1000000;
constexpr int kMaxDocumentDepth = 64;

// `what` names the file's role in messages ("sweep file", "energy table").
// Keys keep the file's order.
nlohmann::ordered_json read_document(const std::string& path, const std::string& what);
// The same, for readers that do not care about key order.
nlohmann::json read_document_unordered(const std::string& path, const std::string& what);

// True when text is well-formed UTF-8.
bool is_valid_utf8(const std::string& text);

}  // namespace mls
