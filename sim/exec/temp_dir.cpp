#include "sim/exec/temp_dir.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ref/core/error.h"

namespace mls::exec {

namespace fs = std::filesystem;

namespace {

// The owner pid in "<prefix>-<pid>-XXXXXX", or 0 when the name is not one.
pid_t owner_of(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix + "-", 0) != 0) return 0;
  const std::string rest = name.substr(prefix.size() + 1);
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos || rest.size() - dash != 7) return 0;
  pid_t pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (rest[i] < '0' || rest[i] > '9' || pid > 100000000) return 0;
    pid = pid * 10 + (rest[i] - '0');
  }
  return pid;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

int reap_stale_temp_dirs(const fs::path& base, const std::string& prefix) {
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t owner = owner_of(it->path().filename().string(), prefix);
    struct stat st {};
    // Only folders (not links) of this user whose owner is gone.
    if (owner <= 0 || ::lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
        alive(owner))
      continue;
    std::error_code rm;
    fs::remove_all(it->path(), rm);
    removed += !rm;
  }
  return removed;
}

}  // namespace mls::exec
