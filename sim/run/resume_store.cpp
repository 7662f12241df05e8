#include "sim/run/resume_store.h"

#include <cstdio>
#include <filesystem>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/io/json_file.h"
#include "sim/run/resume_entry.h"

namespace mls {

using nlohmann::json;

ResumeStore::ResumeStore(const std::string& dir, const json& identity) : dir_(dir), config_(identity.at("config")) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir, ec)) throw Error("--resume " + dir + ": cannot create the directory");
  const std::string id_path = dir + "/run.json";
  if (std::filesystem::exists(id_path, ec)) {
    if (read_json_file(id_path, "--resume run identity") != identity)
      throw Error("--resume " + dir + " holds another run's layer-passes (other trace, config, flags or layers); "
                  "use a new directory");
  } else {
    write_file_atomic(id_path, json_text(identity));
  }
}

std::optional<json> ResumeStore::find(const std::string& layer, Pass pass, int64_t expected_macs) const {
  const std::string path = entry_path(layer, pass);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::string why;
  std::optional<json> e;
  try {
    e = parse_resume_entry(read_input_file(path, "--resume entry", kMaxTextFileBytes), layer, pass, config_,
                           expected_macs, why);
  } catch (const Error& bad) {
    why = bad.what();
  }
  if (!e) std::fprintf(stderr, "run: --resume entry %s: %s; computed again\n", path.c_str(), why.c_str());
  return e;
}

void ResumeStore::keep(const json& entry) const {
  write_file_atomic(entry_path(entry.at("name").get<std::string>(), parse_pass(entry.at("pass").get<std::string>())),
                    resume_entry_text(entry));
}

std::string ResumeStore::entry_path(const std::string& layer, Pass pass) const {
  return dir_ + "/" + layer + "." + to_string(pass) + ".json";
}

}  // namespace mls
