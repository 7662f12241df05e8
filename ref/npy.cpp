#include "ref/npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "ref/atomic_write.h"
#include "ref/error.h"

namespace mls {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

struct Header {
  std::string descr;
  bool fortran = false;
  Shape shape;
  size_t data_offset = 0;
};

std::string dict_value(const std::string& path, const std::string& dict, const std::string& key) {
  const std::regex re("['\"]" + key + "['\"]\\s*:\\s*('[^']*'|\"[^\"]*\"|True|False|\\([^)]*\\))");
  std::smatch m;
  if (!std::regex_search(dict, m, re)) fail(path, "bad .npy header: no '" + key + "' entry");
  return m[1];
}

Shape parse_shape(const std::string& path, const std::string& tuple) {
  Shape shape;
  static const std::regex num("\\s*([0-9]+)\\s*(,|$)");
  std::string body = tuple.substr(1, tuple.size() - 2);
  auto it = std::sregex_iterator(body.begin(), body.end(), num);
  size_t consumed = 0;
  for (; it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) != consumed) fail(path, "bad .npy header: shape " + tuple);
    const std::string digits = (*it)[1];
    if (digits.size() > 15) fail(path, "shape " + tuple + " is too large");
    shape.push_back(std::stoll(digits));
    consumed = static_cast<size_t>(it->position() + it->length());
  }
  if (body.find_first_not_of(" ", consumed) != std::string::npos) fail(path, "bad .npy header: shape " + tuple);
  return shape;
}

Header parse_header(const std::string& path, const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t len = 0, start = 0;
  if (major == 1) {
    len = static_cast<unsigned char>(bytes[8]) | (size_t(static_cast<unsigned char>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated .npy header");
    for (int i = 0; i < 4; ++i) len |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < start + len) fail(path, "truncated .npy header");
  const std::string dict = bytes.substr(start, len);
  Header h;
  h.descr = dict_value(path, dict, "descr");
  h.descr = h.descr.substr(1, h.descr.size() - 2);
  h.fortran = dict_value(path, dict, "fortran_order") == "True";
  h.shape = parse_shape(path, dict_value(path, dict, "shape"));
  h.data_offset = start + len;
  return h;
}

size_t itemsize_of(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "<f2") return 2;
  if (descr == "<f8") return 8;
  if (descr.size() == 3 && descr[0] == '>')
    fail(path, "big-endian data ('" + descr + "') is not supported; save it little-endian");
  fail(path, "unsupported dtype '" + descr + "' (expected float32, float16 or float64)");
}

int64_t checked_numel(const std::string& path, const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n) || n > (int64_t{1} << 40))
      fail(path, "shape " + shape_str(shape) + " has too many elements");
  return n;
}

}  // namespace

float half_to_float(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(float(man), -24);
  else if (exp == 31) v = man ? NAN : INFINITY;
  else v = std::ldexp(float(man | 0x400), exp - 25);
  return sign ? -v : v;
}

TensorF read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open (missing or unreadable file)");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  const Header h = parse_header(path, bytes);
  if (h.fortran) fail(path, "Fortran-order arrays are not supported; save it in C order");
  const size_t item = itemsize_of(path, h.descr);
  const int64_t n = checked_numel(path, h.shape);
  const size_t expected = h.data_offset + size_t(n) * item;
  if (bytes.size() != expected)
    fail(path, "data size " + std::to_string(bytes.size() - h.data_offset) + " bytes disagrees with shape " +
                   shape_str(h.shape) + " (" + std::to_string(size_t(n) * item) + " bytes expected)");
  TensorF t(h.shape);
  const char* src = bytes.data() + h.data_offset;
  for (int64_t i = 0; i < n; ++i) {
    const char* p = src + size_t(i) * item;
    float& dst = t.data[size_t(i)];
    if (item == 4) {
      std::memcpy(&dst, p, 4);
    } else if (item == 2) {
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      dst = half_to_float(bits);
    } else {
      double d;
      std::memcpy(&d, p, 8);
      dst = static_cast<float>(d);
    }
  }
  return t;
}

std::string npy_bytes(const std::string& descr, const Shape& shape, const void* data, size_t bytes) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) shape_text += std::to_string(shape[i]) + ", ";
  if (shape.size() > 1) shape_text.erase(shape_text.size() - 2);
  else if (shape.size() == 1) shape_text.erase(shape_text.size() - 1);
  shape_text += ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  out += dict;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

void write_npy_raw(const std::string& path, const std::string& descr, const Shape& shape, const void* data,
                   size_t bytes) {
  write_file_atomic(path, npy_bytes(descr, shape, data, bytes));
}

std::string npy_bytes(const TensorF& t) { return npy_bytes("<f4", t.shape, t.data.data(), t.data.size() * 4); }
std::string npy_bytes(const Shape& shape, const std::vector<double>& d) {
  return npy_bytes("<f8", shape, d.data(), d.size() * 8);
}
std::string npy_bytes(const Shape& shape, const std::vector<int32_t>& d) {
  return npy_bytes("<i4", shape, d.data(), d.size() * 4);
}
std::string npy_bytes(const Shape& shape, const std::vector<int8_t>& d) {
  return npy_bytes("|i1", shape, d.data(), d.size());
}

void write_npy(const std::string& path, const TensorF& t) { write_file_atomic(path, npy_bytes(t)); }
void write_npy(const std::string& path, const Shape& shape, const std::vector<double>& d) {
  write_file_atomic(path, npy_bytes(shape, d));
}
void write_npy(const std::string& path, const Shape& shape, const std::vector<int32_t>& d) {
  write_file_atomic(path, npy_bytes(shape, d));
}
void write_npy(const std::string& path, const Shape& shape, const std::vector<int8_t>& d) {
  write_file_atomic(path, npy_bytes(shape, d));
}

}  // namespace mls
