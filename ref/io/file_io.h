#pragma once
// Every file the program reads or writes goes through here, so every command
// gives the same guarantees (docs/testing.md, "Reliability"):
// - an input must be a regular file under a size limit (a directory or a FIFO
//   is refused at once, never read or waited on);
// - an output is written to a temporary file created exclusively beside its
//   target and renamed into place, so a failure never leaves a partial file and
//   a planted symlink never redirects the write;
// - an output target that is not a regular file is never replaced: a FIFO, a
//   character device or an open descriptor (/dev/stdout, /dev/fd/N) is written
//   into directly, because that is what naming it asks for; a directory, a
//   socket or a block device is refused before any work; a symbolic link is
//   replaced like a file, never written through;
// - a set of outputs is staged and committed together, so a failed command
//   leaves nothing new behind, not even a directory it created: a commit that
//   fails part-way renames back what it had already replaced;
// - an output that is one of the command's inputs is refused before any work.
#include <cstdint>
#include <string>
#include <vector>

#include "ref/core/excerpt.h"  // quoted_excerpt, for the files that quote input

namespace mls {

// Size limits of inputs, checked before a byte is read.
constexpr uint64_t kMaxTextFileBytes = uint64_t{256} << 20;   // JSON and YAML documents
constexpr uint64_t kMaxTensorFileBytes = uint64_t{16} << 30;  // .npy tensors

// The whole file; mls::Error "<path>: ..." when it is missing, not a regular
// file, unreadable or larger than max_bytes. `what` names the file's role in
// messages ("energy table", "sweep file").
std::string read_input_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// An input file opened with read_input_file's checks, read piece by piece:
// a large file (a tensor) is copied once, into where it is used, and never
// held whole a second time.
class InputFile {
 public:
  InputFile(const std::string& path, const std::string& what, uint64_t max_bytes);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  uint64_t size() const { return size_; }  // when opened
  // Up to n bytes from the current position into dst; fewer only at the
  // end of the file. mls::Error "<path>: cannot read <what>: ..." on failure.
  size_t read(void* dst, size_t n);

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Writes bytes to path through an exclusively created temporary file (or
// directly into a FIFO or device, see above).
void write_file_atomic(const std::string& path, const std::string& bytes);

// How an output target is written: renamed into place (a regular file or a
// missing one) or written into (a FIFO, a character device, /dev/stdout).
enum class OutputTarget { file, stream };

// The target's kind; mls::Error "<flag> <path>: ..." for a directory, a
// socket, a block device or an empty path.
OutputTarget check_output_target(const std::string& flag, const std::string& path);

// A set of outputs written together. Files are staged (written to their
// temporary names) as the command goes, so memory stays bounded by one file;
// commit() renames every staged file into place. Destroyed uncommitted (an
// error unwound through it), it removes every temporary file and every
// directory that it created.
class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();

  // Creates dir and its missing parents; they are removed again on failure.
  void make_dir(const std::string& dir);
  void stage(const std::string& path, const std::string& bytes);
  // A temporary file, created exclusively beside `path`, for a writer that
  // opens files by name itself (SystemC's VCD writer); it becomes `path` at
  // commit(). `suffix` ends the temporary name (".vcd").
  std::string stage_external(const std::string& path, const std::string& suffix = "");
  void commit();

 private:
  struct Staged {
    std::string temp, target;
    OutputTarget kind = OutputTarget::file;
    std::string bytes;   // a stream target's, when staged from memory
    std::string backup;  // during commit(): a link to the file it replaces
  };
  void back_up(Staged& s);
  void roll_back(size_t renamed);
  std::vector<Staged> staged_;
  std::vector<std::string> created_dirs_;
  bool committed_ = false;
};

// Refuses an output path that names one of the inputs (the same file, or the
// same path before it exists). `flag` names the output in the message.
void check_output_not_input(const std::string& flag, const std::string& output,
                            const std::vector<std::string>& inputs);

// Refuses, before any work, an output whose directory does not exist or
// which names a directory. `flag` names the output in the message.
void check_output_parent(const std::string& flag, const std::string& output);

// Both checks above, for an output file named by `flag`.
void check_output_file(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs);

}  // namespace mls
