#pragma once
// Reading a JSON file with errors that name it, on one line. Shared by the
// trace loader, the reports, the energy command and sweeps.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace mls {

// JSON deeper than this is refused at parse time: copying or writing a value
// recurses, and 100,000 levels overflow the stack. Reports nest 5 levels.
constexpr int kMaxJsonDepth = 64;

// Budgets checked by a pass over the text before any value is built
// (docs/reference.md#size-budgets): at most max_values values, and at most
// max_items entries in the top-level object's array `items_key` (when given);
// `items_note` ends the message of the latter ("; split the trace").
struct JsonBudget {
  size_t max_values = SIZE_MAX;
  std::string items_key;
  size_t max_items = SIZE_MAX;
  std::string items_note;
};

// Parses text as J (json or ordered_json); mls::Error "<path>: ..." when it is
// not JSON, nests deeper than kMaxJsonDepth or is over a budget. Linear in the
// text: the limits are checked by a SAX pass first (nlohmann's callback parser
// rescans an array at every object's end, quadratic in a long list).
template <class J>
J parse_json_text(const std::string& text, const std::string& path, const JsonBudget& budget = {});

// `what` names the file's role in messages ("cannot open <what>: ...").
nlohmann::json read_json_file(const std::string& path, const std::string& what = "JSON file");

// The text of a JSON file: indented, newline-terminated; invalid UTF-8 (from a
// path or a name) is replaced, never an exception after the work is done.
std::string json_text(const nlohmann::json& j);
std::string json_text(const nlohmann::ordered_json& j);

// entry[key] when it is a string, else `fallback` (reports read from users).
std::string string_field(const nlohmann::json& entry, const char* key, const std::string& fallback = "");

// Library messages (nlohmann, yaml-cpp) may span lines; errors are one line.
std::string one_line(std::string text);

}  // namespace mls
