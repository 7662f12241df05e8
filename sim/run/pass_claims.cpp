#include "sim/run/pass_claims.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"

namespace mls {

namespace {

// A file name for any layer name: its letters and digits, then a hash of the
// whole key, so names that differ only in other characters stay apart.
std::string claim_file(const std::string& key) {
  std::string name;
  for (char c : key) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.size() > 120) name.resize(120);
  return name + "-" + hex64(fnv1a64(key));
}

}  // namespace

bool PassClaims::take(const std::string& key) const {
  if (dir_.empty()) return true;
  const std::string path = dir_ + "/" + claim_file(key);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return false;
  throw Error("--claims " + dir_ + ": cannot claim layer-pass '" + key + "' (" + std::strerror(errno) + ")");
}

bool PassClaims::taken(const std::string& key) const {
  return !dir_.empty() && ::access((dir_ + "/" + claim_file(key)).c_str(), F_OK) == 0;
}

}  // namespace mls
