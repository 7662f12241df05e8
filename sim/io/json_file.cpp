#include "sim/io/json_file.h"

#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls {

template <class J>
J parse_json_text(const std::string& text, const std::string& path) {
  // The parser itself is iterative; the callback stops it before a value
  // deeper than the limit exists.
  const auto depth_guard = [&path](int depth, typename J::parse_event_t, J&) {
    if (depth > kMaxJsonDepth) throw Error(path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return J::parse(text, depth_guard);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + one_line(e.what()));
  }
}

template nlohmann::json parse_json_text<nlohmann::json>(const std::string&, const std::string&);
template nlohmann::ordered_json parse_json_text<nlohmann::ordered_json>(const std::string&, const std::string&);

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  return parse_json_text<nlohmann::json>(read_input_file(path, what, kMaxTextFileBytes), path);
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string json_text(const nlohmann::ordered_json& j) {
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string string_field(const nlohmann::json& entry, const char* key, const std::string& fallback) {
  return entry.is_object() && entry.contains(key) && entry[key].is_string() ? entry[key].get<std::string>() : fallback;
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace mls
