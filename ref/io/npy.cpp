#include "ref/io/npy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "ref/io/file_io.h"
#include "ref/core/error.h"

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

// numpy's own reader refuses headers over 10,000 bytes from untrusted files;
// ours allows more (long shapes) but never an unbounded one.
constexpr size_t kMaxHeaderBytes = 65536;
constexpr size_t kMaxRank = 32;

// A reader of the one Python literal a .npy header holds, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// by hand, without regexes or recursion, so no header can exhaust the stack.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  Header parse() {
    Header h;
    bool seen[3] = {false, false, false};
    expect('{');
    while (!peek('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") h.descr = quoted();
      else if (key == "fortran_order") h.fortran = boolean();
      else if (key == "shape") h.shape = shape();
      else bad("unknown key " + quoted_excerpt(key));
      const int index = key == "descr" ? 0 : key == "fortran_order" ? 1 : 2;
      if (seen[index]) bad("'" + key + "' repeats");
      seen[index] = true;
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) bad("text after the header dictionary");
    for (int i = 0; i < 3; ++i)
      if (!seen[i]) bad(std::string("no '") + (i == 0 ? "descr" : i == 1 ? "fortran_order" : "shape") + "' entry");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { fail(path_, "bad .npy header: " + what); }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) bad(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      bad("expected a quoted string at byte " + std::to_string(pos_));
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) bad("unterminated string");
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const char* word : {"True", "False"})
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return word[0] == 'T';
      }
    bad("fortran_order must be True or False");
  }
  Shape shape() {
    Shape dims;
    expect('(');
    while (!peek(')')) {
      size_t digits = 0;
      int64_t d = 0;
      for (; pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])); ++pos_, ++digits)
        if (digits < 16) d = d * 10 + (text_[pos_] - '0');
      if (digits == 0) bad("shape must be a tuple of non-negative integers");
      if (digits > 15) fail(path_, "shape dimension is too large");
      if (dims.size() == kMaxRank) fail(path_, "rank over " + std::to_string(kMaxRank) + " is not supported");
      dims.push_back(d);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

// The magic, the version and the header dictionary, read from the file's
// start; the data follows at data_offset.
Header read_header(const std::string& path, InputFile& file) {
  std::string bytes(12, '\0');
  bytes.resize(file.read(bytes.data(), 10));
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t len = 0, start = 0;
  if (major == 1) {
    len = static_cast<unsigned char>(bytes[8]) | (size_t(static_cast<unsigned char>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    bytes.resize(10 + file.read(&bytes[10], 2));
    if (bytes.size() < 12) fail(path, "truncated .npy header");
    for (int i = 0; i < 4; ++i) len |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (len > kMaxHeaderBytes)
    fail(path, "bad .npy header: " + std::to_string(len) + " bytes, over the " + std::to_string(kMaxHeaderBytes) +
                   "-byte limit");
  std::string text(len, '\0');
  if (file.read(text.data(), len) < len) fail(path, "truncated .npy header");
  Header h = HeaderParser(path, text).parse();
  h.data_offset = start + len;
  return h;
}

size_t itemsize_of(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "<f2") return 2;
  if (descr == "<f8") return 8;
  if (descr.size() == 3 && descr[0] == '>')
    fail(path, "big-endian data ('" + descr + "') is not supported; save it little-endian");
  fail(path, "unsupported dtype " + quoted_excerpt(descr) + " (expected float32, float16 or float64)");
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

namespace {

// One stored element as float32 (exact for float16, rounded once for float64).
float stored_value(const char* p, size_t item) {
  if (item == 4) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  if (item == 2) {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    return half_to_float(bits);
  }
  double d;
  std::memcpy(&d, p, 8);
  return static_cast<float>(d);
}

// The data in blocks: float32 read straight into the tensor, other widths
// through `staging` and converted; each block is handed to `block` while it
// is still in cache.
void read_data(const std::string& path, InputFile& file, size_t item, TensorF& t, const NpyBlockFn& block) {
  const size_t n = t.data.size();
  if (n == 0 && block) block(t.shape, 0, t.data.data(), 0);
  std::vector<char> staging(item == 4 ? 0 : kNpyBlockElements * item);
  for (size_t first = 0; first < n; first += kNpyBlockElements) {
    const size_t count = std::min(kNpyBlockElements, n - first);
    float* dst = t.data.data() + first;
    char* raw = item == 4 ? reinterpret_cast<char*>(dst) : staging.data();
    if (file.read(raw, count * item) < count * item) fail(path, "the file became shorter while it was read");
    if (item != 4)
      for (size_t i = 0; i < count; ++i) dst[i] = stored_value(raw + i * item, item);
    if (block) block(t.shape, int64_t(first), dst, count);
  }
}

// The header of a file whose size matches it; `item` receives the width
// of its elements.
Header read_checked_header(const std::string& path, InputFile& file, size_t& item) {
  const Header h = read_header(path, file);
  if (h.fortran) fail(path, "Fortran-order arrays are not supported; save it in C order");
  item = itemsize_of(path, h.descr);
  const int64_t n = checked_numel(path, h.shape);
  const uint64_t expected = h.data_offset + uint64_t(n) * item;
  if (file.size() != expected)
    fail(path, "data size " + std::to_string(file.size() - std::min<uint64_t>(file.size(), h.data_offset)) +
                   " bytes disagrees with shape " + shape_str(h.shape) + " (" + std::to_string(size_t(n) * item) +
                   " bytes expected)");
  return h;
}

}  // namespace

TensorF read_npy(const std::string& path, const NpyBlockFn& block) {
  InputFile file(path, ".npy tensor", kMaxTensorFileBytes);
  size_t item = 0;
  TensorF t(read_checked_header(path, file, item).shape);
  read_data(path, file, item, t, block);
  return t;
}

Shape read_npy_shape(const std::string& path) {
  InputFile file(path, ".npy tensor", kMaxTensorFileBytes);
  size_t item = 0;
  return read_checked_header(path, file, item).shape;
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
