#pragma once
// The one worker pool of the commands that run `mlssim` in child processes
// (`run -j`, `sweep`): a private temporary directory for the workers' reports
// and logs, and the children themselves, started, waited for and stopped.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mls::exec {

// $TMPDIR/<prefix>-<pid>-XXXXXX (default /tmp), private to this process and
// removed with everything in it however the command ends; one a SIGKILL left
// behind (its <pid> no live process) is removed by the next one made with the
// same prefix (reap_stale_temp_dirs). `who` names the command in the error
// when it cannot be made.
class TempDir {
 public:
  TempDir(const std::string& prefix, const std::string& who);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Children of this process running this same executable (spawn: stdin and
// stdout on /dev/null, stderr in a log file). Whatever still runs when the
// pool goes (an exception, an interrupt) gets SIGTERM and is reaped.
class WorkerPool {
 public:
  struct Ended {
    pid_t pid = -1;
    int status = 0;
    bool lost = false;  // waitpid failed for it: its status is unknown
  };

  WorkerPool();
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  pid_t start(const std::vector<std::string>& args, const std::filesystem::path& log);
  // Another program (a sweep point's training run), watched like the workers.
  pid_t start(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& log);
  size_t running() const { return running_.size(); }

  // The next worker to end. Without `poll`, blocks until one does or a signal
  // arrives (then nullopt: the caller checks exec::interrupted()); with it,
  // sleeps `poll` when none has ended yet and returns nullopt.
  std::optional<Ended> wait_one(std::optional<std::chrono::milliseconds> poll = std::nullopt);

  // SIGTERM to every running worker, then reaps them.
  void stop_all();

 private:
  std::string exe_;
  std::set<pid_t> running_;
};

// A worker's log, read line by line as it grows: each whole line once, to
// `on_line`; a line still being written waits for the next forward().
class LogTail {
 public:
  explicit LogTail(std::filesystem::path path) : path_(std::move(path)) {}
  template <class OnLine>
  void forward(OnLine on_line) {
    for (const std::string& line : new_lines()) on_line(line);
  }

 private:
  std::vector<std::string> new_lines();
  std::filesystem::path path_;
  uint64_t offset_ = 0;
};

}  // namespace mls::exec
