#include "ref/io/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "ref/core/error.h"
#include "ref/io/fault.h"

namespace mls {

namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string size_text(uint64_t bytes) {
  return bytes >= (uint64_t{1} << 30) ? std::to_string(bytes >> 30) + " GiB" : std::to_string(bytes >> 20) + " MiB";
}

// Closes a descriptor on every path out of a scope.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

void check_regular(const std::string& path, const std::string& what, const struct stat& st, uint64_t max_bytes) {
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected a " + what + " file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": is not a regular file (a FIFO or device?), expected a " + what);
  if (uint64_t(st.st_size) > max_bytes)
    throw Error(path + ": " + what + " of " + std::to_string(st.st_size) + " bytes is over the " +
                size_text(max_bytes) + " limit");
}

bool write_all(int fd, const char* data, size_t size) {
  if (fault::fail_write()) {
    errno = ENOSPC;  // MLSSIM_FAULT=write:N (ref/io/fault.h)
    return false;
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

bool write_all(int fd, const std::string& bytes) { return write_all(fd, bytes.data(), bytes.size()); }

// New files get the usual permissions (0666 less the umask), not mkstemp's 0600.
mode_t file_mode() {
  static const mode_t mode = [] {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mode_t(0666 & ~mask);
  }();
  return mode;
}

// Creates "<dir>/.<name>.XXXXXX<suffix>" with O_EXCL (mkstemps) and returns
// its descriptor; `temp` receives the name.
int create_temp(const std::string& target, const std::string& suffix, std::string& temp) {
  const fs::path p(target);
  if (p.filename().empty()) throw Error(target + ": cannot write: the path names a directory");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string pattern = (dir / ("." + p.filename().string() + ".XXXXXX" + suffix)).string();
  const int fd = ::mkstemps(pattern.data(), int(suffix.size()));
  if (fd < 0) throw Error(target + ": cannot write: " + errno_text());
  ::fchmod(fd, file_mode());
  temp = std::move(pattern);  // no allocation between creating the file and naming it to the caller
  return fd;
}

// Stages bytes in a new temporary file beside `target`, named in `temp` as
// soon as it exists (so its owner removes it whatever fails next).
void write_temp(const std::string& target, const std::string& bytes, std::string& temp) {
  const int fd = create_temp(target, "", temp);
  const bool ok = write_all(fd, bytes);
  const int error = errno;
  if (::close(fd) != 0 || !ok) throw Error(target + ": cannot write: " + std::strerror(ok ? errno : error));
}

}  // namespace

InputFile::InputFile(const std::string& path, const std::string& what, uint64_t max_bytes) : path_(path), what_(what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open " + what + ": " + errno_text());
  check_regular(path, what, st, max_bytes);
  // O_NONBLOCK: should the path become a FIFO after the check, open must not wait for a writer.
  FdGuard f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) throw Error(path + ": cannot open " + what + ": " + errno_text());
  if (::fstat(f.fd, &st) != 0) throw Error(path + ": cannot read " + what + ": " + errno_text());
  check_regular(path, what, st, max_bytes);
  size_ = uint64_t(st.st_size);
  std::swap(fd_, f.fd);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t InputFile::read(void* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd_, static_cast<char*>(dst) + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path_ + ": cannot read " + what_ + ": " + errno_text());
    if (got == 0) break;
    done += size_t(got);
  }
  return done;
}

std::string read_input_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  InputFile f(path, what, max_bytes);
  std::string bytes(size_t(f.size()), '\0');
  bytes.resize(f.read(bytes.data(), bytes.size()));
  return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  OutputSet out;
  out.stage(path, bytes);
  out.commit();
}

namespace {

// A path that names an open descriptor of this process (the shell's
// redirection): written into, whatever the descriptor is.
bool names_descriptor(const std::string& path) {
  return path == "/dev/stdout" || path == "/dev/stderr" || path.rfind("/dev/fd/", 0) == 0 ||
         path.rfind("/proc/self/fd/", 0) == 0;
}

// Writes `bytes`, or the file `from`'s content, into an existing FIFO or
// device. SIGPIPE is ignored meanwhile, so a reader that went away is an
// error line (EPIPE), not a silent death.
void write_stream(const std::string& target, const std::string& bytes, const std::string& from) {
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  FdGuard out{::open(target.c_str(), O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC)};
  bool ok = out.fd >= 0;
  if (ok && from.empty()) ok = write_all(out.fd, bytes);
  if (ok && !from.empty()) {
    FdGuard in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
    char buf[1 << 16];
    ssize_t n = 0;
    ok = in.fd >= 0;
    while (ok && (n = ::read(in.fd, buf, sizeof buf)) > 0) ok = write_all(out.fd, buf, size_t(n));
    ok = ok && n == 0;
  }
  const std::string why = errno_text();
  ::sigaction(SIGPIPE, &old, nullptr);
  if (!ok) throw Error(target + ": cannot write: " + why);
}

}  // namespace

OutputTarget check_output_target(const std::string& flag, const std::string& path) {
  const std::string name = flag.empty() ? path : flag + " " + path;
  if (path.empty()) throw Error(flag + ": the path is empty; give a file name");
  if (names_descriptor(path)) return OutputTarget::stream;
  // lstat: a symbolic link is replaced, as a file is, never written through
  // (only the descriptor names above are followed).
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return OutputTarget::file;  // missing: created
  if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) return OutputTarget::file;
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return OutputTarget::stream;
  if (S_ISDIR(st.st_mode)) throw Error(name + ": is a directory; give a file name");
  const char* kind = S_ISSOCK(st.st_mode) ? "a socket" : S_ISBLK(st.st_mode) ? "a block device" : "not a file";
  throw Error(name + ": is " + kind +
              ", which mlssim never writes into or replaces; give a file, a FIFO or a character device");
}

OutputSet::~OutputSet() {
  if (committed_) return;
  for (const Staged& s : staged_)
    if (!s.temp.empty()) ::unlink(s.temp.c_str());
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) ::rmdir(it->c_str());
}

void OutputSet::make_dir(const std::string& dir) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = fs::absolute(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (!fs::create_directory(*it, ec) && ec) throw Error(dir + ": cannot create directory: " + ec.message());
    created_dirs_.push_back(it->string());
  }
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": is not a directory");
}

// Each staged entry is recorded before its temporary file is made, so that
// a failure at any point (an allocation too) leaves it to the destructor.
void OutputSet::stage(const std::string& path, const std::string& bytes) {
  if (check_output_target("", path) == OutputTarget::stream) {
    staged_.push_back({"", path, OutputTarget::stream, bytes, ""});
    return;
  }
  staged_.push_back({"", path, OutputTarget::file, "", ""});
  write_temp(path, bytes, staged_.back().temp);
}

std::string OutputSet::stage_external(const std::string& path, const std::string& suffix) {
  const OutputTarget kind = check_output_target("", path);
  // A stream's temporary file lives in the temporary directory (not beside
  // /dev/stdout); its content is copied into the stream at commit().
  const std::string beside =
      kind == OutputTarget::file ? path : (fs::temp_directory_path() / "mlssim-stream").string();
  staged_.push_back({"", path, kind, "", ""});
  ::close(create_temp(beside, suffix, staged_.back().temp));
  return staged_.back().temp;
}

// A hard link to the file a commit is about to replace, so that roll_back()
// can put it back.
void OutputSet::back_up(Staged& s) {
  struct stat st {};
  if (s.kind != OutputTarget::file || ::lstat(s.target.c_str(), &st) != 0) return;
  ::close(create_temp(s.target, ".old", s.backup));
  ::unlink(s.backup.c_str());
  if (::link(s.target.c_str(), s.backup.c_str()) != 0) {
    s.backup.clear();
    throw Error(s.target + ": cannot write: " + errno_text());
  }
}

// Undoes the first `renamed` renames of a failed commit.
void OutputSet::roll_back(size_t renamed) {
  for (size_t i = 0; i < renamed; ++i) {
    Staged& s = staged_[i];
    if (s.kind != OutputTarget::file) continue;
    if (s.backup.empty())
      ::unlink(s.target.c_str());
    else if (::rename(s.backup.c_str(), s.target.c_str()) == 0)
      s.backup.clear();
  }
}

// Every target checked again, every file replaced kept aside, every file
// renamed into place, then every stream written; a failure at any step puts
// back what the earlier steps changed, so the set is all or nothing (for the
// files: a stream cannot take back what it was sent).
void OutputSet::commit() {
  size_t renamed = 0;
  try {
    for (Staged& s : staged_)
      if (check_output_target("", s.target) != s.kind) throw Error(s.target + ": changed type while the command ran");
    for (Staged& s : staged_) back_up(s);
    for (; renamed < staged_.size(); ++renamed) {
      Staged& s = staged_[renamed];
      if (s.kind == OutputTarget::file && std::rename(s.temp.c_str(), s.target.c_str()) != 0)
        throw Error(s.target + ": cannot write: " + errno_text());
      if (s.kind == OutputTarget::file) s.temp.clear();
    }
    for (const Staged& s : staged_)
      if (s.kind == OutputTarget::stream) write_stream(s.target, s.bytes, s.temp);
  } catch (...) {  // an mls::Error, or std::bad_alloc on the way: put back what was done
    roll_back(renamed);
    for (const Staged& s : staged_)
      if (!s.backup.empty()) ::unlink(s.backup.c_str());
    throw;
  }
  for (const Staged& s : staged_) {
    if (!s.backup.empty()) ::unlink(s.backup.c_str());
    if (!s.temp.empty()) ::unlink(s.temp.c_str());
  }
  committed_ = true;
}

void check_output_not_input(const std::string& flag, const std::string& output,
                            const std::vector<std::string>& inputs) {
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(fs::absolute(output), ec);
  for (const std::string& in : inputs) {
    std::error_code ec2;
    const bool same = fs::exists(output, ec2) && fs::exists(in, ec2) ? fs::equivalent(output, in, ec2)
                                                                    : out == fs::weakly_canonical(fs::absolute(in), ec2);
    if (same) throw Error(flag + " " + output + ": is the input " + in + "; choose another output path");
  }
}

void check_output_parent(const std::string& flag, const std::string& output) {
  if (check_output_target(flag, output) == OutputTarget::stream) return;  // written into, not beside
  std::error_code ec;
  const fs::path p(output);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (p.filename().empty() || fs::is_directory(p, ec))
    throw Error(flag + " " + output + ": is a directory; give a file name");
  if (!fs::is_directory(dir, ec)) throw Error(flag + " " + output + ": directory " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(flag + " " + output + ": cannot write in " + dir.string() + ": " + errno_text());
}

void check_output_file(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs) {
  check_output_parent(flag, output);
  check_output_not_input(flag, output, inputs);
}


}  // namespace mls
