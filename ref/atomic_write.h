#pragma once
// Every output file is written to a temporary name beside the target and renamed
// into place, so a failure never leaves a partial file behind.
#include <string>
#include <vector>

namespace mls {

// Throws mls::Error naming `path` when the file cannot be written.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Several files, all or none: every file is written to its temporary name
// first, and only then are they renamed into place.
struct PendingFile {
  std::string path, bytes;
};
void write_files_atomic(const std::vector<PendingFile>& files);

}  // namespace mls
