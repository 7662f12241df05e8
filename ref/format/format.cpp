#include "ref/format/format.h"

#include <cmath>
#include <regex>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "ref/core/tensor.h"

namespace mls {

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string ElemFormat::name() const { return "e" + std::to_string(e) + "m" + std::to_string(m); }
std::string ScaleFormat::name() const { return "e" + std::to_string(e) + "m" + std::to_string(m); }

namespace {

bool parse_em(const std::string& text, int& e, int& m) {
  static const std::regex re("e([0-9]{1,2})m([0-9]{1,2})");
  std::smatch match;
  if (!std::regex_match(text, match, re)) return false;
  e = std::stoi(match[1]);
  m = std::stoi(match[2]);
  return true;
}

int floor_log2(uint64_t v) { return 63 - __builtin_clzll(v); }

}  // namespace

ElemFormat parse_elem_format(const std::string& text) {
  ElemFormat f;
  if (!parse_em(text, f.e, f.m) || f.e > 4 || f.m > 12 || f.e + f.m < 1)
    throw Error("unknown element format " + quoted_excerpt(text) +
                " (expected eXmY with X in [0,4], Y in [0,12], X+Y >= 1, e.g. e2m4)");
  return f;
}

ScaleFormat parse_scale_format(const std::string& text) {
  ScaleFormat f;
  if (!parse_em(text, f.e, f.m) || f.e > 8 || f.m > 3)
    throw Error("unknown group-scale format " + quoted_excerpt(text) +
                " (expected eXmY with X in [0,8], Y in [0,3], e.g. e8m1 or e4m3)");
  return f;
}

bool is_representable(const ElemFormat& fmt, int64_t q) {
  if (q < 0 || q > fmt.max_q()) return false;
  if (fmt.e == 0 || q < (int64_t{1} << fmt.m)) return true;
  const int b = floor_log2(static_cast<uint64_t>(q)) - fmt.m;
  return (q & ((int64_t{1} << b) - 1)) == 0;
}

ElemCode encode_q(const ElemFormat& fmt, int64_t q, bool sign) {
  if (!is_representable(fmt, q))
    throw Error("q = " + std::to_string(q) + " is not representable in " + fmt.name());
  ElemCode c;
  c.sign = sign;
  if (fmt.e == 0 || q < (int64_t{1} << fmt.m)) {
    c.man_code = static_cast<uint32_t>(q);
    return c;
  }
  const int b = floor_log2(static_cast<uint64_t>(q)) - fmt.m;
  c.exp_code = static_cast<uint32_t>(b + 1);
  c.man_code = static_cast<uint32_t>((q >> b) - (int64_t{1} << fmt.m));
  return c;
}

int64_t decode_q(const ElemFormat& fmt, const ElemCode& c) {
  if (c.exp_code == 0) return c.man_code;
  return ((int64_t{1} << fmt.m) + c.man_code) << (c.exp_code - 1);
}

uint32_t pack(const ElemFormat& fmt, const ElemCode& c) {
  return (uint32_t{c.sign} << (fmt.e + fmt.m)) | (c.exp_code << fmt.m) | c.man_code;
}

ElemCode unpack(const ElemFormat& fmt, uint32_t bits) {
  ElemCode c;
  c.man_code = bits & ((1u << fmt.m) - 1);
  c.exp_code = (bits >> fmt.m) & ((1u << fmt.e) - 1);
  c.sign = (bits >> (fmt.e + fmt.m)) & 1u;
  return c;
}

double group_scale_value(const ScaleFormat& fmt, GroupScale s) {
  return std::ldexp(1.0 + std::ldexp(s.man, -fmt.m), s.exp);
}

}  // namespace mls
