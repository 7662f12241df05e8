#pragma once
// The private temporary folders of `run -j` (mlssim-run-*) and `sweep`
// (mlssim-sweep-*). Each is named after its owner's process id, so a folder
// left by an owner killed with SIGKILL (which no handler sees) is found and
// removed by the next run or sweep: see OwnedTempDir.
#include <filesystem>
#include <string>

namespace mls::exec {

// "$TMPDIR/<prefix>-<pid>-XXXXXX" (TMPDIR unset or empty: /tmp), created with
// mkdtemp, removed with everything in it when this object goes. Before
// creating its own, it removes every "<prefix>-<pid>-*" folder of this user
// whose pid is no live process. Throws mls::Error when it cannot create one.
class OwnedTempDir {
 public:
  explicit OwnedTempDir(const std::string& prefix);
  ~OwnedTempDir();
  OwnedTempDir(const OwnedTempDir&) = delete;
  OwnedTempDir& operator=(const OwnedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Removes the stale folders OwnedTempDir describes in `base`; returns how many.
int reap_stale_temp_dirs(const std::filesystem::path& base, const std::string& prefix);

}  // namespace mls::exec
