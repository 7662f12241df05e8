#pragma once
// Counter-based random source for stochastic rounding. The draw for element i of
// a tensor is a pure function of (seed, tensor name, i), so results do not depend
// on thread count or visit order, and another framework can reproduce them:
//
//   key  = fnv1a64(name) ^ (seed * 0x9E3779B97F4A7C15)
//   bits = splitmix64_mix(key + (i + 1) * 0x9E3779B97F4A7C15)
//   r    = (bits >> 40) * 2^-24 - 0.5          (exact in float32, in [-0.5, 0.5))
//
// splitmix64_mix is the finaliser of Vigna's SplitMix64.
#include <cstdint>
#include <cstdio>
#include <string>

namespace mls {

// FNV-1a with the standard 64-bit offset basis, or another one: sweep point
// ids were first made with 1469598103934665603 (the standard basis missing its
// last digit), and they must not change.
constexpr uint64_t kFnv1aOffsetBasis = 0xcbf29ce484222325ULL;

inline uint64_t fnv1a64(const std::string& s, uint64_t basis = kFnv1aOffsetBasis) {
  uint64_t h = basis;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A 64-bit hash as stored text: 16 lowercase hex digits.
inline std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class CounterRng {
 public:
  CounterRng(uint64_t seed, const std::string& name)
      : key_(fnv1a64(name) ^ (seed * kGamma)) {}
  // Uniform in [-0.5, 0.5), a multiple of 2^-24.
  float at(uint64_t index) const {
    const uint64_t bits = splitmix64_mix(key_ + (index + 1) * kGamma);
    return static_cast<float>(static_cast<double>(bits >> 40) * 0x1p-24 - 0.5);
  }

 private:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;
  uint64_t key_;
};

}  // namespace mls
