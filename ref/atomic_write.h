#pragma once
// Every output file is written to a temporary name beside the target and renamed
// into place, so a failure never leaves a partial file behind.
#include <string>

namespace mls {

// Throws mls::Error naming `path` when the file cannot be written.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace mls
