#pragma once
// Quoting what the user typed in an error line.
#include <cstddef>
#include <string>

namespace mls {

// A user-supplied value shortened for an error line: at most `max` characters,
// control characters shown as '?'.
std::string quoted_excerpt(const std::string& text, size_t max = 60);

}  // namespace mls
