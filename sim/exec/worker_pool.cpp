#include "sim/exec/worker_pool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>

#include "ref/core/error.h"
#include "sim/exec/process.h"
#include "sim/exec/temp_dir.h"

namespace mls::exec {

TempDir::TempDir(const std::string& prefix, const std::string& who) {
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  reap_stale_temp_dirs(base, prefix);
  std::string pattern = (base / (prefix + "-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw Error(who + ": cannot create a temporary directory " + pattern + ": " + std::strerror(errno));
  try {
    path_ = pattern;
  } catch (...) {  // std::bad_alloc: the folder must not outlive this
    ::rmdir(pattern.c_str());
    throw;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

WorkerPool::WorkerPool() : exe_(std::filesystem::read_symlink("/proc/self/exe").string()) {}

WorkerPool::~WorkerPool() { stop_all(); }

pid_t WorkerPool::start(const std::vector<std::string>& args, const std::filesystem::path& log) {
  return start(exe_, args, log);
}

pid_t WorkerPool::start(const std::string& exe, const std::vector<std::string>& args,
                        const std::filesystem::path& log) {
  const pid_t pid = spawn(exe, args, log);
  running_.insert(pid);
  return pid;
}

std::optional<WorkerPool::Ended> WorkerPool::wait_one(std::optional<std::chrono::milliseconds> poll) {
  if (poll) {
    for (const pid_t pid : running_) {
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == 0) continue;
      running_.erase(pid);
      return Ended{pid, status, r != pid};
    }
    std::this_thread::sleep_for(*poll);
    return std::nullopt;
  }
  while (!running_.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) return std::nullopt;
      throw Error(std::string("waitpid: ") + std::strerror(errno));
    }
    if (running_.erase(pid)) return Ended{pid, status, false};
  }
  return std::nullopt;
}

void WorkerPool::stop_all() {
  for (const pid_t pid : running_) ::kill(pid, SIGTERM);
  for (const pid_t pid : running_) ::waitpid(pid, nullptr, 0);
  running_.clear();
}

std::vector<std::string> LogTail::new_lines() {
  std::vector<std::string> lines;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return lines;
  in.seekg(std::streamoff(offset_));
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line still being written: read it whole next time
    offset_ += line.size() + 1;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace mls::exec
