#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ref/core/config.h"

namespace mls {

// --resume DIR: DIR/run.json holds the run's identity (run_identity), and
// DIR/<layer>.<pass>.json each finished layer-pass's report entry with its
// checksum (resume_entry.h), written through a temporary file and renamed, so
// a run killed at any moment leaves only whole entries. A directory of another
// run is refused, never mixed; an entry that is not whole is computed again.
class ResumeStore {
 public:
  ResumeStore(const std::string& dir, const nlohmann::json& identity);
  // The kept entry of the layer-pass when it is whole (parse_resume_entry);
  // `expected_macs` (< 0: unknown) is the product count its shapes give (a lower bound). An
  // entry that is not whole is named on stderr with why, and computed again.
  std::optional<nlohmann::json> find(const std::string& layer, Pass pass, int64_t expected_macs) const;
  void keep(const nlohmann::json& entry) const;

 private:
  std::string entry_path(const std::string& layer, Pass pass) const;
  std::string dir_;
  nlohmann::json config_;  // config_json's: the rows and cols the counts are checked against
};

}  // namespace mls
