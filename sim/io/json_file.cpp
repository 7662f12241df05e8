#include "sim/io/json_file.h"

#include "ref/core/error.h"
#include "ref/io/file_io.h"

namespace mls {

namespace {

// The SAX pass of parse_json_text: depth, values and the items of one
// top-level array, counted without building anything.
class BudgetCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit BudgetCheck(const JsonBudget& budget) : budget_(budget) {}
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return value() && open(); }
  bool key(string_t& k) override {
    if (depth_ == 1) in_items_ = !budget_.items_key.empty() && k == budget_.items_key;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return value() && open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
    problem = "not valid JSON: " + one_line(e.what());
    return false;
  }
  std::string problem;  // why the pass stopped

 private:
  bool value() {
    if (++values_ > budget_.max_values)
      return stop("more than " + std::to_string(budget_.max_values) + " values");
    if (depth_ == 2 && in_items_ && ++items_ > budget_.max_items)
      return stop("more than " + std::to_string(budget_.max_items) + " entries in '" + budget_.items_key + "'" +
                  budget_.items_note);
    return true;
  }
  bool open() {
    if (++depth_ > kMaxJsonDepth) return stop("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool stop(const std::string& why) {
    problem = why;
    return false;
  }
  const JsonBudget& budget_;
  int depth_ = 0;
  size_t values_ = 0, items_ = 0;
  bool in_items_ = false;
};

}  // namespace

template <class J>
J parse_json_text(const std::string& text, const std::string& path, const JsonBudget& budget) {
  BudgetCheck check(budget);
  if (!nlohmann::json::sax_parse(text, &check)) throw Error(path + ": " + check.problem);
  try {
    return J::parse(text);  // iterative, and within the limits just checked
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + one_line(e.what()));
  }
}

template nlohmann::json parse_json_text<nlohmann::json>(const std::string&, const std::string&, const JsonBudget&);
template nlohmann::ordered_json parse_json_text<nlohmann::ordered_json>(const std::string&, const std::string&,
                                                                        const JsonBudget&);

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
