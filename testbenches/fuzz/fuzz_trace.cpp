// libFuzzer harness: mls::load_trace on a trace directory whose manifest.json is
// the input (docs/fuzzing.md). The directory also holds small valid tensors the
// manifest may name (written once per process):
//   w.npy  [2, 1, 3, 3] float32   w8.npy [2, 1, 3, 3] float64
//   x.npy  [1, 1, 4, 4] float32   x2.npy [1, 1, 4, 4] float16   sub/x.npy = x.npy
//   g.npy  [1, 2, 2, 2] float32   (grad_output of w, x with stride 1, padding 0)
//   g1.npy [1, 2, 4, 4] float32   (... with padding 1)
//   v.npy  [5] float32            bad.npy: not a .npy file
// Each input is loaded twice: all layers, and only the layer named "a" (the
// selection skips the other layers).
#include <cstdint>
#include <filesystem>
#include <vector>

#include "fuzz_support.h"
#include "json_mutator.h"
#include "ref/core/error.h"
#include "ref/io/npy.h"
#include "sim/io/trace.h"

namespace {

std::vector<float> ramp(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i) * step - 1.0f;
  return v;
}

std::string make_trace_dir() {
  const std::string dir = mls::fuzz::scratch_dir() + "/trace";
  std::filesystem::create_directories(dir + "/sub");
  const auto f32 = [&](const char* name, const mls::Shape& shape, float step) {
    const std::vector<float> v = ramp(size_t(mls::numel(shape)), step);
    mls::fuzz::write_scratch(std::string("trace/") + name, mls::npy_bytes("<f4", shape, v.data(), v.size() * 4));
  };
  f32("w.npy", {2, 1, 3, 3}, 0.125f);
  f32("x.npy", {1, 1, 4, 4}, 0.25f);
  f32("sub/x.npy", {1, 1, 4, 4}, 0.25f);
  f32("g.npy", {1, 2, 2, 2}, 0.5f);
  f32("g1.npy", {1, 2, 4, 4}, 0.0625f);
  f32("v.npy", {5}, 1.0f);
  std::vector<double> w8(18);
  for (size_t i = 0; i < w8.size(); ++i) w8[i] = double(i) / 3.0 - 2.0;
  mls::fuzz::write_scratch("trace/w8.npy", mls::npy_bytes(mls::Shape{2, 1, 3, 3}, w8));
  std::vector<uint16_t> x2(16);
  for (size_t i = 0; i < x2.size(); ++i) x2[i] = uint16_t(0x3c00 + 0x100 * i);  // 1.0, 1.25, ...
  mls::fuzz::write_scratch("trace/x2.npy", mls::npy_bytes("<f2", {1, 1, 4, 4}, x2.data(), x2.size() * 2));
  mls::fuzz::write_scratch("trace/bad.npy", std::string("not a numpy file\n"));
  return dir;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  static const std::vector<std::string> words = {
      "format", "model", "layers", "source", "notes", "name", "kind", "stride", "padding", "dilation", "groups",
      "weight", "input", "grad_output", "mls-trace/1", "conv2d", "a", "b", "w.npy", "w8.npy", "x.npy", "x2.npy",
      "sub/x.npy", "g.npy", "g1.npy", "v.npy", "bad.npy", "manifest.json", "sub"};
  return mls::fuzz::mutate_json(data, size, max_size, seed, 0, words);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = make_trace_dir();
  mls::fuzz::write_scratch("trace/manifest.json", data, size);
  try {
    mls::fuzz::loaded(std::to_string(mls::load_trace(dir).layers.size()) + " layer(s)");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  try {
    mls::fuzz::loaded("layer a: " + std::to_string(mls::load_trace(dir, {"a"}).layers.size()) + " layer(s)");
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);
  }
  return 0;
}
