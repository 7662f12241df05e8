// libFuzzer harness: mls::read_npy on an arbitrary file (docs/fuzzing.md).
// The input is the whole .npy file. A file that reads is written back with
// npy_bytes and read again; the two tensors must agree bit for bit.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "fuzz_support.h"
#include "ref/core/error.h"
#include "ref/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mls::fuzz::write_scratch("input.npy", data, size);
  mls::TensorF t;
  try {
    t = mls::read_npy(path);
  } catch (const mls::Error& e) {
    mls::fuzz::expected(e);  // a refused file: the expected user error
    return 0;
  }
  mls::fuzz::loaded("tensor " + mls::shape_str(t.shape));
  if (t.data.size() != size_t(mls::numel(t.shape))) std::abort();
  const std::string again = mls::fuzz::write_scratch("again.npy", mls::npy_bytes(t));
  const mls::TensorF u = mls::read_npy(again);  // an mls::Error here is a finding too
  if (u.shape != t.shape || u.data.size() != t.data.size() ||
      (!t.data.empty() && std::memcmp(u.data.data(), t.data.data(), t.data.size() * sizeof(float)) != 0))
    std::abort();
  return 0;
}
