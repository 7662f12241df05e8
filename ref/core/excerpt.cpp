#include "ref/core/excerpt.h"

namespace mls {

std::string quoted_excerpt(const std::string& text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out += c < 0x20 || c == 0x7f ? '?' : char(c);
  }
  if (text.size() > max) out += "... (" + std::to_string(text.size()) + " characters)";
  return "'" + out + "'";
}

}  // namespace mls
