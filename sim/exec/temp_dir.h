#pragma once
// The private temporary folders of `run -j` (mlssim-run-*) and `sweep`
// (mlssim-sweep-*), exec::TempDir, are named "<prefix>-<pid>-XXXXXX" after
// their owner's process id, so a folder left by an owner killed with SIGKILL
// (which no handler sees) is found and removed by the next one.
#include <filesystem>
#include <string>

namespace mls::exec {

// Removes every "<prefix>-<pid>-XXXXXX" folder in `base` that belongs to this
// user and whose <pid> is no live process; returns how many it removed.
int reap_stale_temp_dirs(const std::filesystem::path& base, const std::string& prefix);

}  // namespace mls::exec
