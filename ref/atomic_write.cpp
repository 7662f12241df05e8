#include "ref/atomic_write.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ref/error.h"

namespace mls {

namespace {

std::string temp_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

// Writes bytes to path's temporary name; throws naming `path`.
void write_temp(const std::string& path, const std::string& bytes) {
  const std::string tmp = temp_name(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write: " + why);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) { write_files_atomic({{path, bytes}}); }

void write_files_atomic(const std::vector<PendingFile>& files) {
  size_t written = 0;
  try {
    for (; written < files.size(); ++written) write_temp(files[written].path, files[written].bytes);
  } catch (const Error&) {
    for (size_t i = 0; i < written; ++i) std::remove(temp_name(files[i].path).c_str());
    throw;
  }
  for (const PendingFile& f : files)
    if (std::rename(temp_name(f.path).c_str(), f.path.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      for (const PendingFile& g : files) std::remove(temp_name(g.path).c_str());
      throw Error(f.path + ": cannot write: " + why);
    }
}

}  // namespace mls
