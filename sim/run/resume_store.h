#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ref/core/config.h"

namespace mls {

// --resume DIR: DIR/run.json holds the run's identity (run_identity), and
// DIR/<layer>.<pass>.json each finished layer-pass's report entry, written
// through a temporary file and renamed, so a run killed at any moment leaves
// only whole entries. A directory of another run is refused, never mixed.
class ResumeStore {
 public:
  ResumeStore(const std::string& dir, const nlohmann::json& identity);
  std::optional<nlohmann::json> find(const std::string& layer, Pass pass) const;
  void keep(const nlohmann::json& entry) const;

 private:
  std::string entry_path(const std::string& layer, Pass pass) const;
  std::string dir_;
};

}  // namespace mls
