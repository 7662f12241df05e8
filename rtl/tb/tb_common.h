#pragma once
// Shared pieces of the RTL testbench: bit fields of Verilator's wide ports,
// and a mismatch counter that prints the first few differences.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <type_traits>

#include <verilated.h>

namespace mls::rtl_tb {

// Bits [lsb, lsb + width) of a port (width <= 64): a plain integer for ports
// of up to 64 bits, Verilator's array of 32-bit words above.
template <class Port>
uint64_t get_field(const Port& w, int lsb, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const int bit = lsb + i;
    if constexpr (std::is_integral_v<Port>)
      v |= uint64_t((uint64_t(w) >> bit) & 1u) << i;
    else
      v |= uint64_t((w[bit / 32] >> (bit % 32)) & 1u) << i;
  }
  return v;
}

template <class Port>
void set_field(Port& w, int lsb, int width, uint64_t v) {
  for (int i = 0; i < width; ++i) {
    const int bit = lsb + i;
    const bool one = (v >> i) & 1u;
    if constexpr (std::is_integral_v<Port>) {
      const Port mask = Port(Port(1) << bit);
      w = one ? Port(w | mask) : Port(w & ~mask);
    } else {
      const uint32_t mask = 1u << (bit % 32);
      w[bit / 32] = one ? (w[bit / 32] | mask) : (w[bit / 32] & ~mask);
    }
  }
}

// Sign-extends the low `width` bits of v.
inline int64_t sign_extend(uint64_t v, int width) {
  const uint64_t sign = uint64_t{1} << (width - 1);
  v &= width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  return int64_t(v ^ sign) - int64_t(sign);
}

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// An fp32 bit pattern, compared as bits and printed as 8 hex digits.
struct Hex32 {
  uint32_t v;
  bool operator==(const Hex32& o) const { return v == o.v; }
};
inline std::ostream& operator<<(std::ostream& os, const Hex32& h) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", h.v);
  return os << buf;
}

// Counts checks and mismatches of one test; prints the first `shown`. `where`
// is a string, or a callable that makes one (only called on a mismatch: the
// block tests make millions of checks).
class Checker {
 public:
  explicit Checker(std::string test) : test_(std::move(test)) {}
  template <class T, class Where>
  void expect_eq(const T& got, const T& want, const Where& where) {
    ++checks_;
    if (got == want) return;
    if (++mismatches_ > kShown) return;
    std::cerr << test_ << ": mismatch at ";
    if constexpr (std::is_invocable_v<Where>)
      std::cerr << where();
    else
      std::cerr << where;
    std::cerr << ": rtl " << got << ", golden " << want << "\n";
  }
  void fail(const std::string& what) {
    ++mismatches_;
    if (mismatches_ <= kShown) std::cerr << test_ << ": " << what << "\n";
  }
  uint64_t mismatches() const { return mismatches_; }
  // Prints the summary line; the return value is the exit status.
  int finish() const {
    std::cout << test_ << ": " << checks_ << " checks, " << mismatches_ << " mismatches\n";
    return mismatches_ == 0 && checks_ > 0 ? 0 : 1;
  }

 private:
  static constexpr uint64_t kShown = 10;
  std::string test_;
  uint64_t checks_ = 0, mismatches_ = 0;
};

}  // namespace mls::rtl_tb
