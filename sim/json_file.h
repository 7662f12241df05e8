#pragma once
// Reading a JSON file with errors that name it, on one line. Shared by the
// trace loader, the reports, the energy command and sweeps.
#include <nlohmann/json.hpp>
#include <string>

namespace mls {

// `open_hint` is appended when the file cannot be opened ("cannot open" + hint).
nlohmann::json read_json_file(const std::string& path, const std::string& open_hint = "");

}  // namespace mls
