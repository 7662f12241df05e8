// mls_rtl_tb_baselines: the baseline designs' arithmetic units (rtl/src/
// fp_mul.sv and fp_add.sv at each format's widths, fp8_e4m3_mul.sv; the units
// are named in rtl/CMakeLists.txt's MLS_BASELINE_UNITS), each a
// Verilator model of its own, against IEEE results computed on the host
// (tb_ieee.h). Any NaN matches any NaN; every other result matches bit for bit.
//   fp32_mul, fp32_add  edge-code pairs, then 4 M random pairs in classes
//                       (any bits, finite, near underflow/overflow,
//                       subnormal, tie-prone or cancelling operands) against
//                       the host's float arithmetic, itself held against the
//                       exact double result rounded by round_to_format
//   bf16_mul, fp16_add  every code against every edge code (both orders) and
//                       4 M random pairs (fp16: half of them cancelling),
//                       against the exact double result rounded by
//                       round_to_format (fp16 also against _Float16)
//   fp8_e4m3_mul        all 65,536 code pairs against the exact product as fp32
//   fp8_e4m3_mul_bf16   the same with OUT = 16: the exact product as bfloat16
//   reference           round_to_format against the compiler's conversions
// Exit 0: no mismatch; 1: mismatches (first 10 shown); 2: bad usage.
#include <algorithm>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>

#include "Vbf16_mul.h"
#include "Vfp16_add.h"
#include "Vfp32_add.h"
#include "Vfp32_mul.h"
#include "Vfp8_e4m3_mul.h"
#include "Vfp8_e4m3_mul_bf16.h"
#include "tb_common.h"
#include "tb_ieee.h"

namespace mls::rtl_tb {
namespace {

constexpr int kRandomPairs = 4000000;

std::string hex(uint32_t v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Counts of the expected results' classes and of exact ties, printed so that
// a run shows which edges it reached.
struct Coverage {
  uint64_t by_class[5] = {};
  uint64_t ties = 0;
  void add(const IeeeFormat& f, uint32_t want, bool tie) {
    ++by_class[int(result_class(f, want))];
    ties += tie;
  }
  void print(const std::string& test) const {
    std::cout << test << ": results: " << by_class[0] << " zero, " << by_class[1] << " subnormal, " << by_class[2]
              << " normal, " << by_class[3] << " infinite, " << by_class[4] << " NaN; " << ties
              << " exact ties rounded\n";
  }
};

// One check of an IEEE result: a NaN is accepted for a NaN, else bits must match.
void expect_ieee(Checker& check, const IeeeFormat& f, uint32_t got, uint32_t want, uint32_t a, uint32_t b,
                 const char* op) {
  const uint32_t seen = f.is_nan(want) && f.is_nan(got) ? want : got;
  check.expect_eq(Hex32{seen}, Hex32{want}, [&] { return hex(a) + " " + op + " " + hex(b); });
}

// A random finite fp32 whose exponent field lies in [lo, hi].
uint32_t random_float(std::mt19937_64& rng, uint32_t lo, uint32_t hi) {
  const uint32_t e = lo + uint32_t(rng() % (hi - lo + 1));
  return uint32_t(rng() & 0x807fffffu) | (e << 23);
}

// fp32 operand pairs for the multiplier, by class (i % 6).
std::pair<uint32_t, uint32_t> mul_pair(int i, std::mt19937_64& rng) {
  const auto with_exp = [&](uint32_t e) { return uint32_t(rng() & 0x807fffffu) | (e << 23); };
  switch (i % 6) {
    case 0: return {uint32_t(rng()), uint32_t(rng())};                            // any bits
    case 1: return {random_float(rng, 0, 254), random_float(rng, 0, 254)};       // finite
    case 2: {  // near underflow: the product's exponent around 2^-126 .. 2^-151
      const int ea = 1 + int(rng() % 126), t = -26 + int(rng() % 29);
      return {with_exp(uint32_t(ea)), with_exp(uint32_t(std::clamp(127 + t - ea, 0, 254)))};
    }
    case 3: {  // near overflow: the product's exponent around 2^126 .. 2^129
      const int ea = 128 + int(rng() % 126), t = 126 + int(rng() % 4);
      return {with_exp(uint32_t(ea)), with_exp(uint32_t(std::clamp(127 + t - ea, 0, 254)))};
    }
    case 4: return {random_float(rng, 0, 0), random_float(rng, 0, 254)};  // a subnormal operand
    default: {  // short mantissas: products of 2k+2 bits, often exact ties
      const int k = 1 + int(rng() % 13);
      const uint32_t keep = ~((1u << (23 - k)) - 1);
      return {random_float(rng, 1, 254) & keep, random_float(rng, 1, 254) & keep};
    }
  }
}

// fp32 operand pairs for the adder, by class (i % 6).
std::pair<uint32_t, uint32_t> add_pair(int i, std::mt19937_64& rng) {
  switch (i % 6) {
    case 0: return {uint32_t(rng()), uint32_t(rng())};                       // any bits
    case 1: return {random_float(rng, 0, 254), random_float(rng, 0, 254)};  // finite
    case 2: {  // near cancellation: close exponents, opposite signs
      const uint32_t a = random_float(rng, 1, 253), ea = (a >> 23) & 0xff;
      uint32_t b = random_float(rng, ea - (ea > 1), ea + 1) ^ (a & 0x80000000u) ^ 0x80000000u;
      if (rng() % 4 == 0) b = (b & 0xff800000u) | ((a & 0x007fffffu) ^ uint32_t(rng() % 8));
      return {a, b};
    }
    case 3: return {random_float(rng, 0, 2), random_float(rng, 0, 3)};         // subnormals
    case 4: return {random_float(rng, 250, 254), random_float(rng, 240, 254)};  // overflow
    default: {  // exponent gaps around the guard bits (ties), zeros
      uint32_t a = random_float(rng, 30, 220);
      const uint32_t gap = uint32_t(rng() % 30), eb = ((a >> 23) & 0xff) - gap;
      uint32_t b = random_float(rng, eb, eb);
      if (rng() % 2) b &= 0xffff0000u;  // short mantissas: exact halves more often
      if (rng() % 16 == 0) b &= 0x80000000u;
      if (rng() % 64 == 0) a &= 0x80000000u;
      return {a, b};
    }
  }
}

// One unit under test: its model, the checker of its results, a second
// checker (of the host's reference, or of exactness) and the result coverage.
template <class Model>
struct UnitBench {
  UnitBench(const std::string& name, const std::string& second) : name(name), check(name), other(name + second) {}
  uint32_t eval(uint32_t a, uint32_t b) {
    top.a_i = a;
    top.b_i = b;
    top.eval();
    return top.y_o;
  }
  int finish(bool with_other = true) {
    cov.print(name.c_str());
    return with_other ? std::max(other.finish(), check.finish()) : check.finish();
  }
  std::string name;
  Model top;
  Checker check, other;
  Coverage cov;
};

// The fp32 tests: the host's float result, held against the double result
// rounded by round_to_format (a * b is exact in a double; a + b is exact
// whenever a tie is possible, and rounding a rounded double sum again gives the
// correctly rounded float, as 53 >= 2 * 24 + 2).
template <class Model>
int test_fp32(const char* name, const char* op, bool mul,
              const std::function<std::pair<uint32_t, uint32_t>(int, std::mt19937_64&)>& pair) {
  UnitBench<Model> u(name, " reference");
  const auto run = [&](uint32_t a, uint32_t b) {
    const uint32_t got = u.eval(a, b);
    volatile float fa = float_of(a), fb = float_of(b);
    const uint32_t want = bits_of(mul ? fa * fb : fa + fb);
    const double exact = mul ? double(fa) * double(fb) : double(fa) + double(fb);
    bool tie = false;
    const uint32_t rounded = round_to_format(kFp32, exact, &tie);
    expect_ieee(u.other, kFp32, rounded, want, a, b, op);
    u.cov.add(kFp32, want, tie);
    expect_ieee(u.check, kFp32, got, want, a, b, op);
  };
  const std::vector<uint32_t> edges = edge_codes(kFp32);
  for (uint32_t a : edges)
    for (uint32_t b : edges) run(a, b);
  std::mt19937_64 rng(22);
  for (int i = 0; i < kRandomPairs; ++i) {
    const auto [a, b] = pair(i, rng);
    run(a, b);
  }
  return u.finish();
}

// The 16-bit tests: every code against every edge code in both orders, then
// random pairs (for an adder every other one a near or exact cancellation:
// -a with its low bits changed); the exact double result rounded by
// round_to_format.
template <class Model>
int test_16bit(const char* name, const char* op, const IeeeFormat& f, const std::function<double(double, double)>& exact,
               const std::function<void(uint32_t, uint32_t, uint32_t, Checker&)>& extra) {
  UnitBench<Model> u(name, " reference");
  const auto run = [&](uint32_t a, uint32_t b) {
    const uint32_t got = u.eval(a, b);
    bool tie = false;
    const uint32_t want = round_to_format(f, exact(ieee_value(f, a), ieee_value(f, b)), &tie);
    u.cov.add(f, want, tie);
    if (extra) extra(a, b, want, u.other);
    expect_ieee(u.check, f, got, want, a, b, op);
  };
  for (uint32_t e : edge_codes(f))
    for (uint32_t c = 0; c < 0x10000; ++c) run(c, e), run(e, c);
  std::mt19937_64 rng(22);
  const bool adder = std::string(op) == "+";
  for (int i = 0; i < kRandomPairs; ++i) {
    const uint32_t a = uint32_t(rng() & 0xffff), b = uint32_t(rng() & 0xffff);
    run(a, adder && i % 2 ? (a ^ f.sign_bit() ^ (b & 0x3f)) : b);
  }
  return u.finish(bool(extra));
}

// The fp16 sum again through the compiler's _Float16 (GCC rounds it correctly).
void fp16_against_float16(uint32_t a, uint32_t b, uint32_t want, Checker& reference) {
  _Float16 ha, hb;
  const uint16_t ca = uint16_t(a), cb = uint16_t(b);
  std::memcpy(&ha, &ca, 2);
  std::memcpy(&hb, &cb, 2);
  const _Float16 sum = ha + hb;
  uint16_t bits;
  std::memcpy(&bits, &sum, 2);
  expect_ieee(reference, kFp16, bits, want, a, b, "+");
}

// Every e4m3 code pair through a multiplier built with OUT = 32 (Model's y_o
// the fp32 product) or 16 (bfloat16: the fp32 product's upper half, which
// must lose nothing).
template <class Model>
int test_e4m3(const std::string& name, int out_bits) {
  UnitBench<Model> u(name, " exactness");
  const IeeeFormat& f = out_bits == 32 ? kFp32 : kBf16;
  for (uint32_t a = 0; a < 256; ++a)
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t got = u.eval(a, b);
      const double p = e4m3_value(a) * e4m3_value(b);
      const uint32_t p32 = bits_of(float(p)), want = p32 >> (32 - out_bits);
      u.other.expect_eq(std::isnan(p) || ieee_value(f, want) == p, true,
                        [&] { return "product of " + hex(a) + ", " + hex(b); });
      u.cov.add(f, want, false);
      expect_ieee(u.check, f, got, want, a, b, "*");
    }
  return u.finish();
}

// A double to round to f, by class (i % 3): any value over f's range and
// beyond, the exact midpoint of two neighbouring codes, or a midpoint moved by
// a little.
double reference_input(const IeeeFormat& f, int i, std::mt19937_64& rng) {
  const double sign = (rng() & 1) ? -1.0 : 1.0;
  if (i % 3 == 0) {  // binades from below the smallest subnormal to beyond the largest finite
    const int lo = -f.bias() - f.mw - 2, hi = f.bias() + 2;
    return sign * std::ldexp(double(rng() >> 11), lo + int(rng() % uint64_t(hi - lo + 1)) - 52);
  }
  const uint32_t c = uint32_t(rng() % (f.inf() - 1));  // c and c + 1 finite, non-negative
  const double mid = (ieee_value(f, c) + ieee_value(f, c + 1)) / 2;
  if (i % 3 == 1) return sign * mid;
  return sign * (mid + std::ldexp(mid, -30 - int(rng() % 20)) * ((rng() & 1) ? -1 : 1));
}

// round_to_format against the compiler's double -> float and -> _Float16
// conversions, and every 16-bit code's value back to its code.
int test_reference() {
  Checker check("reference");
  std::mt19937_64 rng(22);
  const auto against = [&](const IeeeFormat& f, double x, uint32_t want) {
    check.expect_eq(Hex32{round_to_format(f, x)}, Hex32{want}, [&] { return std::to_string(x); });
  };
  uint64_t ties = 0;
  for (int i = 0; i < 1000000; ++i) {
    const double x = reference_input(kFp32, i, rng), h = reference_input(kFp16, i, rng);
    bool tie = false;
    round_to_format(kFp32, x, &tie);
    ties += tie;
    against(kFp32, x, bits_of(float(x)));
    const _Float16 hf = _Float16(h);
    uint16_t hb;
    std::memcpy(&hb, &hf, 2);
    against(kFp16, h, hb);
  }
  for (const IeeeFormat& f : {kFp16, kBf16})
    for (uint32_t c = 0; c < 0x10000; ++c)
      if (!f.is_nan(c)) against(f, ieee_value(f, c), c);
  std::cout << "reference: " << ties << " fp32 inputs were exact ties\n";
  return check.finish();
}

}  // namespace
}  // namespace mls::rtl_tb

int main(int argc, char** argv) {
  using namespace mls::rtl_tb;
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode == "fp32_mul") return test_fp32<Vfp32_mul>("fp32_mul", "*", true, mul_pair);
  if (mode == "fp32_add") return test_fp32<Vfp32_add>("fp32_add", "+", false, add_pair);
  if (mode == "bf16_mul")
    return test_16bit<Vbf16_mul>("bf16_mul", "*", kBf16, [](double x, double y) { return x * y; }, nullptr);
  if (mode == "fp16_add")
    return test_16bit<Vfp16_add>("fp16_add", "+", kFp16, [](double x, double y) { return x + y; },
                                 fp16_against_float16);
  if (mode == "fp8_e4m3_mul") return test_e4m3<Vfp8_e4m3_mul>("fp8_e4m3_mul", 32);
  if (mode == "fp8_e4m3_mul_bf16") return test_e4m3<Vfp8_e4m3_mul_bf16>("fp8_e4m3_mul OUT=16", 16);
  if (mode == "reference") return test_reference();
  std::cerr << "usage: mls_rtl_tb_baselines "
               "fp32_mul|fp32_add|bf16_mul|fp8_e4m3_mul|fp8_e4m3_mul_bf16|fp16_add|reference\n";
  return 2;
}
