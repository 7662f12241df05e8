#include "sim/json_file.h"

#include <algorithm>
#include <fstream>

#include "ref/error.h"

namespace mls {

nlohmann::json read_json_file(const std::string& path, const std::string& open_hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open" + open_hint);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    std::string why = e.what();
    std::replace(why.begin(), why.end(), '\n', ' ');  // one-line errors
    throw Error(path + ": not valid JSON: " + why);
  }
}

}  // namespace mls
