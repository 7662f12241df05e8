#include "fuzz_support.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

// mls_hw links Debian's libsystemc.so, whose main() calls sc_main: a harness
// that links it needs the symbol (extern "C", as sysc/kernel/sc_externs.h declares
// it), though libFuzzer's main() never calls it.
extern "C" int sc_main(int, char**) { return 0; }

namespace mls::fuzz {

namespace {

constexpr const char* kPrefix = "mlssim-fuzz-";

fs::path scratch_root() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

// Directories left by harness processes that crashed (no atexit ran).
void remove_stale(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + std::char_traits<char>::length(kPrefix), nullptr, 10);
    if (pid > 0 && kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

std::string* g_dir = nullptr;

// MLSSIM_FUZZ_STACK_KB=N lowers the stack limit of the process (the main thread,
// where libFuzzer runs the input) to N KiB, so recursion whose depth grows with
// the input overflows on inputs libFuzzer generates in minutes, not only on
// inputs of hundreds of KB. A finding this way must be confirmed at the normal
// 8 MiB with a larger input (docs/fuzzing.md).
[[maybe_unused]] const bool g_stack_limited = [] {
  const char* kb = std::getenv("MLSSIM_FUZZ_STACK_KB");
  if (!kb || !*kb) return false;
  rlimit limit{};
  getrlimit(RLIMIT_STACK, &limit);
  limit.rlim_cur = rlim_t(std::strtoul(kb, nullptr, 10)) * 1024;
  if (setrlimit(RLIMIT_STACK, &limit) != 0) std::perror("MLSSIM_FUZZ_STACK_KB: setrlimit");
  return true;
}();

bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("MLSSIM_FUZZ_VERBOSE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

void remove_scratch() {
  std::error_code ec;
  if (g_dir) fs::remove_all(*g_dir, ec);
}

}  // namespace

const std::string& scratch_dir() {
  if (!g_dir) {
    const fs::path root = scratch_root();
    remove_stale(root);
    const fs::path dir = root / (kPrefix + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    g_dir = new std::string(dir.string());
    std::atexit(remove_scratch);
  }
  return *g_dir;
}

std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  out.close();
  if (!out) {
    std::perror(path.c_str());
    std::abort();  // the harness itself is broken, not the code under test
  }
  return path;
}

std::string write_scratch(const std::string& name, const std::string& bytes) {
  return write_scratch(name, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

void expected(const std::exception& user_error) {
  if (verbose()) std::fprintf(stderr, "error: %s\n", user_error.what());
}

void loaded(const std::string& what) {
  if (verbose()) std::fprintf(stderr, "ok: %s\n", what.c_str());
}

}  // namespace mls::fuzz
