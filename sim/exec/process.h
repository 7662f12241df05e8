#pragma once
// Child processes and the things that go with them, for commands that run
// `mlssim` in parallel (sweeps): starting a child that dies with its parent,
// catching Ctrl-C, locking a directory, reading a child's last words.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ref/core/error.h"

namespace mls::exec {

// Starts `exe args...` with stdin and stdout on /dev/null and stderr in
// stderr_path. The child gets SIGTERM when this process dies, even by SIGKILL
// (PR_SET_PDEATHSIG), so nothing is left orphaned. Throws mls::Error.
pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::filesystem::path& stderr_path);

// "exit status 3", "killed by signal 9".
std::string exit_str(int status);

// The last non-empty line of a file: a child's one-line error.
std::string last_line(const std::filesystem::path& path);

// SIGINT and SIGTERM set a flag instead of ending the process, without
// SA_RESTART, so a blocked waitpid returns (EINTR) and the caller can stop its
// children and say how to resume.
void catch_interrupts();
bool interrupted();

// What a command throws once it has stopped its children after an interrupt;
// the command catches it when everything it made is cleaned up, says so, and
// calls end_like_the_interrupt().
struct Interrupted : Error {
  using Error::Error;
};

// Ends the process by the signal that interrupted it (default action, so the
// exit status is 130 for SIGINT and 143 for SIGTERM in a shell), as a process
// that caught nothing would have ended.
[[noreturn]] void end_like_the_interrupt();

// The CPUs this process may use (a Slurm allocation or taskset, not the whole node).
int available_cpus();

// "1:02" or "1:02:03".
std::string duration_str(double seconds);

// An exclusive flock on `path` (created if missing) for this object's life;
// it goes with the process however it ends. Throws mls::Error(`busy`) when
// another process holds it.
class FileLock {
 public:
  FileLock(const std::filesystem::path& path, const std::string& busy);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mls::exec
