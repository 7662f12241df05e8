#pragma once
// Shared by the libFuzzer harnesses (docs/fuzzing.md). The project's loaders take
// file paths, so each harness writes its input to a file in a scratch directory
// private to the process (/dev/shm/mlssim-fuzz-<pid>, else $TMPDIR), which is
// removed at exit.
//
// The rule every harness follows: mls::Error is the project's user-error type
// and is expected; any other exception escapes LLVMFuzzerTestOneInput, which
// aborts the process and libFuzzer reports the input as a crash.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace mls::fuzz {

// The process's scratch directory (created on first use), without a trailing '/'.
const std::string& scratch_dir();

// Writes `size` bytes to scratch_dir()/name (overwriting) and returns the path.
std::string write_scratch(const std::string& name, const uint8_t* data, size_t size);
std::string write_scratch(const std::string& name, const std::string& bytes);

// With MLSSIM_FUZZ_VERBOSE=1 in the environment, prints what became of an input
// ("error: <message>" or "ok: <what>") to stderr; useful when running a harness on
// seed files by hand (docs/fuzzing.md). Silent otherwise.
void expected(const std::exception& user_error);
void loaded(const std::string& what);

}  // namespace mls::fuzz
