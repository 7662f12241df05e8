#include "sim/run/resume_entry.h"

#include "ref/core/error.h"
#include "sim/io/json_file.h"
#include "sim/run/report.h"

namespace mls {

using nlohmann::json;

namespace {

const char* kEntryFormat = "mlssim-resume-entry/1";

// What is wrong with a parsed resume file ("" when it holds a whole entry).
std::string entry_problem(const json& file, const std::string& layer, Pass pass, const json& config,
                          int64_t expected_macs) {
  if (!file.is_object() || !file.contains("format") || file["format"] != kEntryFormat || !file.contains("entry") ||
      !file.contains("checksum"))
    return std::string("not an ") + kEntryFormat + " file";
  const json& e = file["entry"];
  if (!e.is_object() || string_field(e, "name") != layer || string_field(e, "pass") != to_string(pass))
    return "not the entry of " + layer + " " + to_string(pass);
  if (file["checksum"] != content_checksum(e)) return "its content does not match its checksum (edited or damaged)";
  try {
    check_entry_counts(e, config, "entry");
  } catch (const Error& bad) {
    return bad.what();
  }
  // Fewer products than the layer's shapes give is no run of it (a grouping
  // may pad the reduction to whole groups, so more is possible).
  if (expected_macs >= 0 && e["macs"].get<uint64_t>() < uint64_t(expected_macs))
    return "its macs are fewer than the " + std::to_string(expected_macs) + " products of the layer's shapes";
  return "";
}

}  // namespace

std::string resume_entry_text(const json& entry) {
  return json_text(json{{"format", kEntryFormat}, {"checksum", content_checksum(entry)}, {"entry", entry}});
}

std::optional<json> parse_resume_entry(const std::string& text, const std::string& layer, Pass pass,
                                       const json& config, int64_t expected_macs, std::string& why) {
  json file;
  try {
    file = parse_json_text<json>(text, "entry");  // the project's limits on depth and size
  } catch (const Error& bad) {
    why = bad.what();
    return std::nullopt;
  }
  try {
    why = entry_problem(file, layer, pass, config, expected_macs);
  } catch (const json::exception&) {  // a value of an unexpected type somewhere: not an entry
    why = "not a run report entry";
  }
  if (!why.empty()) return std::nullopt;
  return file["entry"];
}

}  // namespace mls
