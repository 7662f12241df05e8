// .npy reading and writing: files are built byte by byte here (hand-made
// headers), so the reader is checked against the NumPy format description, not
// against the project's own writer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "ref/core/error.h"
#include "ref/io/npy.h"

namespace {

namespace fs = std::filesystem;
using mls::Shape;
using mls::TensorF;

class ref_npy : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ref_npy_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // A .npy file: magic, version, little-endian header length (2 bytes for
  // v1, 4 for v2/v3), the dict padded with spaces and ended by '\n' so the data
  // starts on a 64-byte boundary, then `data`.
  std::string write_raw(const std::string& name, int major, const std::string& dict, const std::string& data,
                        bool pad = true) {
    const size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    if (pad) {
      const size_t total = prefix + header.size() + 1;
      header.append((64 - total % 64) % 64, ' ');
    }
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += char(major);
    bytes += char(0);
    const size_t len = header.size();
    bytes += char(len & 0xff);
    bytes += char((len >> 8) & 0xff);
    if (major != 1) {
      bytes += char((len >> 16) & 0xff);
      bytes += char((len >> 24) & 0xff);
    }
    bytes += header;
    bytes += data;
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }

  std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) const {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
           ", }";
  }

  void expect_refused(const std::string& p, const std::string& why) {
    try {
      mls::read_npy(p);
      ADD_FAILURE() << why << ": no error for " << p;
    } catch (const mls::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << why << ": message does not name the file: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << why << ": multi-line message: " << msg;
    }
  }

  std::string dir_;
};

template <class T>
std::string le_bytes(const std::vector<T>& values) {
  std::string out;
  for (T v : values) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // x86-64: little-endian already
    out.append(reinterpret_cast<const char*>(b), sizeof(T));
  }
  return out;
}

std::string half_bytes(const std::vector<uint16_t>& bits) {
  std::string out;
  for (uint16_t h : bits) {
    out += char(h & 0xff);
    out += char(h >> 8);
  }
  return out;
}

TEST_F(ref_npy, Float32Version1Vector) {
  const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0x1p-140f, -0.0f};
  const TensorF t = mls::read_npy(write_raw("a.npy", 1, dict("<f4", "(5,)"), le_bytes(v)));
  EXPECT_EQ(t.shape, (Shape{5}));
  ASSERT_EQ(t.data.size(), 5u);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(std::memcmp(&t.data[i], &v[i], 4), 0) << i;
}

TEST_F(ref_npy, Float32Version2Matrix) {
  std::vector<float> v(12);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.25f - 1.0f;
  const TensorF t = mls::read_npy(write_raw("b.npy", 2, dict("<f4", "(3, 4)"), le_bytes(v)));
  EXPECT_EQ(t.shape, (Shape{3, 4}));
  EXPECT_EQ(t.data, v);
}

TEST_F(ref_npy, Float32Version3AndKeysInAnyOrder) {
  const std::vector<float> v = {7.0f, 8.0f};
  const TensorF t = mls::read_npy(
      write_raw("c.npy", 3, "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", le_bytes(v)));
  EXPECT_EQ(t.shape, (Shape{2}));
  EXPECT_EQ(t.data, v);
}

TEST_F(ref_npy, ScalarShape) {
  const TensorF t = mls::read_npy(write_raw("s.npy", 1, dict("<f4", "()"), le_bytes(std::vector<float>{42.5f})));
  EXPECT_TRUE(t.shape.empty());
  ASSERT_EQ(t.data.size(), 1u);
  EXPECT_EQ(t.data[0], 42.5f);
  const TensorF d = mls::read_npy(write_raw("s2.npy", 2, dict("<f8", "()"), le_bytes(std::vector<double>{0.5})));
  EXPECT_TRUE(d.shape.empty());
  EXPECT_EQ(d.data, std::vector<float>{0.5f});
}

TEST_F(ref_npy, Float16IsConvertedExactly) {
  // Hand-decoded half-precision values.
  const std::vector<uint16_t> bits = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x3555, 0x8000};
  const std::vector<float> want = {1.0f, -2.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 65504.0f,
                                   0x1.554p-2f, -0.0f};
  for (int major : {1, 2}) {
    const TensorF t = mls::read_npy(write_raw("h" + std::to_string(major) + ".npy", major, dict("<f2", "(2, 4)"),
                                              half_bytes(bits)));
    EXPECT_EQ(t.shape, (Shape{2, 4}));
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(t.data[i], want[i]) << i;
      EXPECT_EQ(std::signbit(t.data[i]), std::signbit(want[i])) << i;
    }
  }
}

TEST_F(ref_npy, HalfToFloatAllPatterns) {
  EXPECT_EQ(mls::half_to_float(0x7C00), INFINITY);
  EXPECT_EQ(mls::half_to_float(0xFC00), -INFINITY);
  EXPECT_TRUE(std::isnan(mls::half_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(mls::half_to_float(0x7C01)));
#ifdef __FLT16_MAX__
  // The compiler's own binary16 type is the independent yardstick.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const uint16_t h = uint16_t(b);
    _Float16 f16;
    std::memcpy(&f16, &h, 2);
    const float want = static_cast<float>(f16);
    const float got = mls::half_to_float(h);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << b;
    } else {
      EXPECT_EQ(std::memcmp(&got, &want, 4), 0) << std::hex << b << ": " << got << " vs " << want;
    }
  }
#else
  // Positive finite patterns are strictly increasing, with exact spacing.
  for (uint32_t b = 1; b < 0x7C00; ++b) EXPECT_LT(mls::half_to_float(uint16_t(b - 1)), mls::half_to_float(uint16_t(b)));
#endif
}

TEST_F(ref_npy, Float64IsRoundedOnceToFloat32) {
  // 1 + 2^-24 is a tie between 1 and 1 + 2^-23: even -> 1. 1 + 3 * 2^-24 ties
  // to 1 + 2^-22. 1 + 2^-24 + 2^-40 is above the tie -> 1 + 2^-23.
  const std::vector<double> v = {1 + 0x1p-24, 1 + 3 * 0x1p-24, 1 + 0x1p-24 + 0x1p-40, -0.1, 1e-300, 3e38, 0x1p-149};
  const std::vector<float> want = {1.0f, 1 + 0x1p-22f, 1 + 0x1p-23f, -0x1.99999ap-4f, 0.0f, 3e38f, 0x1p-149f};
  for (int major : {1, 2}) {
    const TensorF t = mls::read_npy(write_raw("d" + std::to_string(major) + ".npy", major, dict("<f8", "(7,)"),
                                              le_bytes(v)));
    EXPECT_EQ(t.shape, (Shape{7}));
    EXPECT_EQ(t.data, want);
  }
}

// read_npy's blocks: in order, kNpyBlockElements long but the last, each
// holding the tensor's values at its flat indices (float32 read in place,
// float16 and float64 converted), and one empty block for an empty tensor.
TEST_F(ref_npy, BlocksCoverTheDataInOrderAcrossBlockBoundaries) {
  const size_t n = 2 * mls::kNpyBlockElements + 5;
  std::vector<float> f4(n);
  std::vector<double> f8(n);
  std::vector<uint16_t> f2(n);
  for (size_t i = 0; i < n; ++i) {
    f4[i] = float(i) * 0.5f - 7.0f;
    f8[i] = double(i) + 0.25;
    f2[i] = uint16_t(0x3c00 + (i % 1024));  // 1 + (i mod 1024) / 1024
  }
  const std::string n_text = "(" + std::to_string(n) + ",)";
  const std::string files[] = {write_raw("f4.npy", 1, dict("<f4", n_text), le_bytes(f4)),
                               write_raw("f8.npy", 1, dict("<f8", n_text), le_bytes(f8)),
                               write_raw("f2.npy", 1, dict("<f2", n_text), half_bytes(f2))};
  for (const std::string& file : files) {
    std::vector<std::pair<int64_t, size_t>> blocks;
    std::vector<float> seen;
    const TensorF t = mls::read_npy(file, [&](const Shape& shape, int64_t first, const float* v, size_t count) {
      EXPECT_EQ(shape, (Shape{int64_t(n)}));
      blocks.emplace_back(first, count);
      seen.insert(seen.end(), v, v + count);
    });
    const std::vector<std::pair<int64_t, size_t>> want_blocks = {
        {0, mls::kNpyBlockElements}, {int64_t(mls::kNpyBlockElements), mls::kNpyBlockElements},
        {int64_t(2 * mls::kNpyBlockElements), 5}};
    EXPECT_EQ(blocks, want_blocks) << file;
    EXPECT_EQ(seen, t.data) << file;
    for (size_t i : {size_t{0}, mls::kNpyBlockElements - 1, mls::kNpyBlockElements, n - 1}) {
      const float want = file == files[0] ? f4[i] : file == files[1] ? float(f8[i]) : 1.0f + float(i % 1024) / 1024;
      EXPECT_EQ(t.data[i], want) << file << " at " << i;
    }
  }
  int empty_blocks = 0;
  mls::read_npy(write_raw("empty.npy", 1, dict("<f4", "(0, 3)"), ""),
                [&](const Shape& shape, int64_t first, const float*, size_t count) {
                  EXPECT_EQ(shape, (Shape{0, 3}));
                  EXPECT_EQ(first, 0);
                  EXPECT_EQ(count, 0u);
                  ++empty_blocks;
                });
  EXPECT_EQ(empty_blocks, 1);
}

TEST_F(ref_npy, RefusesFortranOrder) {
  expect_refused(write_raw("f.npy", 1, dict("<f4", "(2, 2)", true), le_bytes(std::vector<float>(4))), "Fortran");
}

TEST_F(ref_npy, RefusesBigEndian) {
  expect_refused(write_raw("be.npy", 1, dict(">f4", "(2,)"), std::string(8, '\0')), "big-endian f4");
  expect_refused(write_raw("be8.npy", 1, dict(">f8", "(1,)"), std::string(8, '\0')), "big-endian f8");
}

TEST_F(ref_npy, RefusesOtherDtypes) {
  // Each with the right data size for its dtype, so only the dtype is wrong.
  const std::pair<std::string, size_t> dtypes[] = {{"<i4", 4}, {"<i8", 8}, {"|u1", 1}, {"|b1", 1},
                                                   {"<c8", 8}, {"<U3", 12}, {"<i2", 2}, {"<u2", 2}};
  for (const auto& [descr, item] : dtypes)
    expect_refused(write_raw("i.npy", 1, dict(descr, "(2,)"), std::string(2 * item, '\0')), "dtype " + descr);
}

TEST_F(ref_npy, RefusesDataSizeMismatch) {
  const std::string full = le_bytes(std::vector<float>(6, 1.0f));
  expect_refused(write_raw("t1.npy", 1, dict("<f4", "(2, 3)"), full.substr(0, full.size() - 1)), "one byte short");
  expect_refused(write_raw("t2.npy", 1, dict("<f4", "(2, 3)"), full.substr(0, 12)), "half the data");
  expect_refused(write_raw("t3.npy", 1, dict("<f4", "(2, 3)"), ""), "no data");
  expect_refused(write_raw("t4.npy", 1, dict("<f4", "(2, 3)"), full + "x"), "one byte too many");
  expect_refused(write_raw("t5.npy", 2, dict("<f2", "(5,)"), std::string(8, '\0')), "f2 short");
}

TEST_F(ref_npy, RefusesShapesWhoseElementCountOverflows) {
  // 2^32 * 2^32 = 2^64 overflows int64; 2^21 * 2^21 * 2^21 = 2^63 too.
  expect_refused(write_raw("o1.npy", 1, dict("<f4", "(4294967296, 4294967296)"), std::string(16, '\0')), "2^64");
  expect_refused(write_raw("o2.npy", 1, dict("<f4", "(2097152, 2097152, 2097152)"), std::string(16, '\0')), "2^63");
  expect_refused(write_raw("o3.npy", 1, dict("<f4", "(99999999999999999999,)"), std::string(16, '\0')), "20 digits");
  expect_refused(write_raw("o4.npy", 1, dict("<f4", "(3037000500, 3037000500)"), std::string(16, '\0')),
                 "just above sqrt(2^63)");
}

TEST_F(ref_npy, RefusesMissingFileBadMagicAndBrokenHeaders) {
  expect_refused(path("does_not_exist.npy"), "missing file");
  {
    const std::string p = path("magic.npy");
    std::ofstream(p, std::ios::binary) << std::string("\x93NUMPZ\x01\x00\x10\x00{'descr': '<f4'}      \n", 33);
    expect_refused(p, "bad magic");
  }
  {
    const std::string p = path("text.npy");
    std::ofstream(p, std::ios::binary) << "1.0 2.0 3.0\n";
    expect_refused(p, "a text file");
  }
  {
    const std::string p = path("empty.npy");
    std::ofstream(p, std::ios::binary).flush();
    expect_refused(p, "empty file");
  }
  {
    // The header claims 118 bytes but the file ends after 20.
    const std::string p = path("short_header.npy");
    std::ofstream(p, std::ios::binary) << std::string("\x93NUMPY\x01\x00\x76\x00{'descr': '<f4", 24);
    expect_refused(p, "truncated header");
  }
  expect_refused(write_raw("v9.npy", 9, dict("<f4", "(1,)"), le_bytes(std::vector<float>{1})), "version 9");
  expect_refused(write_raw("noshape.npy", 1, "{'descr': '<f4', 'fortran_order': False}", le_bytes(std::vector<float>{1})),
                 "no shape");
  expect_refused(write_raw("badshape.npy", 1, dict("<f4", "(2, x)"), le_bytes(std::vector<float>{1, 2})), "bad shape");
}

TEST_F(ref_npy, WriteRoundTripIsAtomicAndLeavesNoTemporaryFiles) {
  TensorF t(Shape{2, 3, 4});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(i) * -0.125f + 0x1p-130f;
  const std::string p = path("out.npy");
  mls::write_npy(p, t);
  const TensorF back = mls::read_npy(p);
  EXPECT_EQ(back.shape, t.shape);
  EXPECT_EQ(back.data, t.data);
  // Overwriting an existing file works the same way.
  t.data[0] = 99.0f;
  mls::write_npy(p, t);
  EXPECT_EQ(mls::read_npy(p).data, t.data);
  // The bytes follow the format: v1.0, header padded to 64, '\n'-terminated.
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = size_t((unsigned char)bytes[8]) | (size_t((unsigned char)bytes[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ(bytes[10 + hlen - 1], '\n');
  const std::string header = bytes.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (2, 3, 4)"), std::string::npos) << header;
  EXPECT_EQ(bytes.size(), 10 + hlen + 24 * 4);
  // Scalars and vectors: NumPy spells them () and (n,).
  TensorF s(Shape{});
  s.data = {3.0f};
  mls::write_npy(path("scalar.npy"), s);
  EXPECT_EQ(mls::read_npy(path("scalar.npy")).shape, Shape{});
  TensorF v(Shape{3});
  mls::write_npy(path("vec.npy"), v);
  EXPECT_EQ(mls::read_npy(path("vec.npy")).shape, Shape{3});
  // int32 / int8 / float64 writers produce the right descr and data size.
  mls::write_npy(path("i4.npy"), Shape{2, 2}, std::vector<int32_t>{1, -2, 3, -4});
  mls::write_npy(path("i1.npy"), Shape{3}, std::vector<int8_t>{1, 0, 1});
  mls::write_npy(path("f8.npy"), Shape{2}, std::vector<double>{0.1, -0.2});
  for (const auto& [name, descr, data_bytes] :
       {std::tuple<std::string, std::string, size_t>{"i4.npy", "'<i4'", 16}, {"i1.npy", "'|i1'", 3}, {"f8.npy", "'<f8'", 16}}) {
    std::ifstream f(path(name), std::ios::binary);
    std::stringstream s2;
    s2 << f.rdbuf();
    const std::string b = s2.str();
    const size_t hl = size_t((unsigned char)b[8]) | (size_t((unsigned char)b[9]) << 8);
    EXPECT_NE(b.substr(10, hl).find(descr), std::string::npos) << name;
    EXPECT_EQ(b.size(), 10 + hl + data_bytes) << name;
  }
  const TensorF f8 = mls::read_npy(path("f8.npy"));
  EXPECT_EQ(f8.data, (std::vector<float>{0.1f, -0.2f}));
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST_F(ref_npy, WriteFailureNamesThePathAndLeavesNothing) {
  const std::string p = path("no_such_dir/out.npy");
  try {
    mls::write_npy(p, TensorF(Shape{2}));
    ADD_FAILURE() << "no error";
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
  // Writing onto a directory's name fails at the rename; the temp file is removed.
  fs::create_directory(path("a_dir"));
  fs::create_directory(path("a_dir/inner"));
  EXPECT_THROW(mls::write_npy(path("a_dir"), TensorF(Shape{2})), mls::Error);
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

}  // namespace
