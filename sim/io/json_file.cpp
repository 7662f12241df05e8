#include "sim/io/json_file.h"

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/io/json_sax.h"

namespace mls {

namespace {

// The SAX pass of parse_json_text: values and the items of one top-level
// array, counted without building anything.
class BudgetCheck : public JsonSaxWalk {
 public:
  explicit BudgetCheck(const JsonBudget& budget) : budget_(budget) {}
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
    problem = "not valid JSON: " + one_line(e.what());
    return false;
  }
  std::string problem;  // why the pass stopped, unless too_deep()

 private:
  bool on_value() override {
    if (++values_ > budget_.max_values)
      return stop("more than " + std::to_string(budget_.max_values) + " values");
    if (in_items() && ++items_ > budget_.max_items)
      return stop("more than " + std::to_string(budget_.max_items) + " entries in '" + budget_.items_key + "'" +
                  budget_.items_note);
    return true;
  }
  // An entry of the top-level object's `items_key`.
  bool in_items() const {
    const auto& f = frames();
    return f.size() == 2 && !f[0].array && !budget_.items_key.empty() && f[0].key == budget_.items_key;
  }
  bool stop(const std::string& why) {
    problem = why;
    return false;
  }
  const JsonBudget& budget_;
  size_t values_ = 0, items_ = 0;
};

}  // namespace

template <class J>
J parse_json_text(const std::string& text, const std::string& path, const JsonBudget& budget) {
  BudgetCheck check(budget);
  if (!nlohmann::json::sax_parse(text, &check))
    throw Error(path + ": " + (check.too_deep() ? "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"
                                                : check.problem));
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
