#pragma once
// One exception type for every user-facing failure: the CLI prints what() on one
// line and exits non-zero, so messages must name the file or tensor at fault.
#include <stdexcept>
#include <string>

namespace mls {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace mls
