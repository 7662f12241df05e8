// The cache of Verilator models of the whole array (array_models.h).
#include "array_models.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace mls::rtl_tb {
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelName = "mls_rtl_array_model";

// FNV-1a, 64 bits: a cache key, not a security property.
class Hash {
 public:
  void add(const std::string& s) {
    for (const unsigned char c : s) h_ = (h_ ^ c) * 0x100000001b3ull;
    h_ = (h_ ^ 0xff) * 0x100000001b3ull;  // a separator, so "ab","c" differs from "a","bc"
  }
  void add_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot be read (a source of the RTL array model)");
    std::ostringstream text;
    text << in.rdbuf();
    add(path);
    add(text.str());
  }
  std::string hex() const {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

std::vector<std::string> verilator_command(const ModelRecipe& r, const ModelRequest& q, const std::string& obj_dir) {
  std::vector<std::string> cmd = {r.verilator, "--cc", "--exe", "--build", "-j", std::to_string(r.jobs),
                                  "--top-module", "mls_array", "--prefix", "Vmls_array", "--Mdir", obj_dir,
                                  "-o", kModelName};
  cmd.insert(cmd.end(), r.verilator_args.begin(), r.verilator_args.end());
  if (q.trace) cmd.push_back("--trace");
  if (!q.fault.empty()) cmd.push_back("+define+" + fault_define(q.fault));
  std::string cflags = "-std=gnu++17 -I" + r.include_dir;
  for (const std::string& p : q.params.parameters()) {
    cmd.push_back("-G" + p);
    cflags += " -DMLS_ARR_" + p;  // the testbench's view of the same parameters
  }
  cmd.insert(cmd.end(), {"-CFLAGS", cflags});
  for (const std::string& v : r.make_vars) cmd.insert(cmd.end(), {"-MAKEFLAGS", v});
  cmd.insert(cmd.end(), r.rtl_sources.begin(), r.rtl_sources.end());
  cmd.push_back(r.testbench);
  return cmd;
}

// Everything the model is built from.
std::string model_hash(const ModelRecipe& r, const ModelRequest& q) {
  Hash h;
  for (const std::string& s : verilator_command(r, q, "")) h.add(s);
  for (const std::string& f : r.rtl_sources) h.add_file(f);
  for (const std::string& f : r.headers) h.add_file(f);
  h.add_file(r.testbench);
  return h.hex();
}

// Runs cmd with stdout and stderr to `log`; its exit status (or -1).
int run_logged(const std::vector<std::string>& cmd, const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    std::vector<char*> argv;
    for (const std::string& s : cmd) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "%s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string tail_of(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& l : last) out += "  " + l + "\n";
  return out;
}

// Builds the model into `dir` (which must not exist), through a directory
// beside it; keeps only the executable and Verilator's log.
void build_model(const ModelRecipe& r, const ModelRequest& q, const std::string& dir) {
  const std::string temp = dir + ".partial";
  fs::remove_all(temp);  // a build killed before; we hold the lock
  fs::create_directories(temp);
  const std::string log = temp + "/build.log";
  std::cerr << "mls_rtl_array: building the RTL model for " << q.params.describe()
            << (q.fault.empty() ? "" : ", fault " + q.fault) << " (Verilator, once; cached in " << dir << ") ..."
            << std::endl;
  const auto start = std::chrono::steady_clock::now();
  const int status = run_logged(verilator_command(r, q, temp + "/obj"), log);
  const std::string built = temp + "/obj/" + kModelName;
  if (status != 0 || !fs::exists(built)) {
    const std::string tail = tail_of(log, 15);
    fs::remove_all(temp);
    throw std::runtime_error("building the RTL model failed (verilator exit " + std::to_string(status) +
                             "); the end of its log:\n" + tail);
  }
  fs::rename(built, temp + "/" + kModelName);
  fs::remove_all(temp + "/obj");
  fs::rename(temp, dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "mls_rtl_array: built in " << int(seconds + 0.5) << " s" << std::endl;
}

// Holds an exclusive flock on a file until destroyed.
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& waiting_for) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot open the lock file: " + std::strerror(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    std::cerr << "mls_rtl_array: waiting for another run building " << waiting_for << std::endl;
    while (flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw std::runtime_error(path + ": cannot lock: " + std::strerror(errno));
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

std::string fault_define(const std::string& fault) {
  if (fault == "ctrl") return "MLS_FAULT_CTRL";
  if (fault == "final-rounding") return "MLS_FAULT_FINAL_ROUNDING";
  throw std::runtime_error("--fault '" + fault + "': expected ctrl or final-rounding");
}

std::string find_or_build_model(const ModelRecipe& recipe, const ModelRequest& request,
                                const std::string& cache_dir) {
  const std::string name = request.params.key() + (request.trace ? "_trace" : "") +
                           (request.fault.empty() ? "" : "_fault-" + request.fault) + "_" +
                           model_hash(recipe, request);
  const std::string dir = cache_dir + "/" + name, model = dir + "/" + kModelName;
  if (fs::exists(model)) return model;
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) throw std::runtime_error(cache_dir + ": cannot create the model cache: " + ec.message());
  const FileLock lock(dir + ".lock", "the same model (" + dir + ")");
  if (!fs::exists(model)) build_model(recipe, request, dir);
  return model;
}

}  // namespace mls::rtl_tb
