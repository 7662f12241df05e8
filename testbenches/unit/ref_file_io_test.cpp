// The file guarantees every command relies on (ref/io/file_io.h): inputs are
// regular files under a limit, outputs never follow a planted link, and a set
// of outputs is all or nothing.
#include "ref/io/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ref/core/error.h"

namespace fs = std::filesystem;

namespace {

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mlssim-file-io-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void put(const std::string& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
  size_t entries() const { return size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }

  fs::path dir_;
};

// The old writer opened "<path>.tmp.<pid>" without O_EXCL and wrote through
// whatever was there.
TEST_F(FileIo, WriteDoesNotFollowALinkAtTheOldTemporaryName) {
  put(path("victim"), "keep");
  fs::create_symlink(path("victim"), path("out.npy") + ".tmp." + std::to_string(::getpid()));
  mls::write_file_atomic(path("out.npy"), "new");
  EXPECT_EQ(slurp(path("victim")), "keep");
  EXPECT_EQ(slurp(path("out.npy")), "new");
  EXPECT_FALSE(fs::is_symlink(path("out.npy")));
}

TEST_F(FileIo, WrittenFilesGetTheUsualPermissions) {
  const mode_t mask = ::umask(022);
  mls::write_file_atomic(path("f"), "x");
  ::umask(mask);
  EXPECT_EQ(fs::status(path("f")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(FileIo, AnUncommittedSetLeavesNothingNew) {
  put(path("existing"), "old");
  {
    mls::OutputSet out;
    out.make_dir(path("a/b/c"));
    out.stage(path("a/b/c/one"), "1");
    out.stage(path("existing"), "overwritten?");
    const std::string temp = out.stage_external(path("wave.vcd"), ".vcd");
    EXPECT_TRUE(fs::exists(temp));
    EXPECT_EQ(fs::path(temp).extension(), ".vcd");
    EXPECT_NE(temp, path("wave.vcd"));
  }
  EXPECT_EQ(entries(), 1u);  // only "existing", unchanged
  EXPECT_EQ(slurp(path("existing")), "old");
}

TEST_F(FileIo, ACommittedSetWritesEveryFile) {
  mls::OutputSet out;
  out.make_dir(path("d"));
  out.stage(path("d/x"), "x");
  put(out.stage_external(path("w.vcd"), ".vcd"), "wave");
  out.stage(path("r.json"), "{}");
  out.commit();
  EXPECT_EQ(slurp(path("d/x")), "x");
  EXPECT_EQ(slurp(path("w.vcd")), "wave");
  EXPECT_EQ(slurp(path("r.json")), "{}");
  EXPECT_EQ(entries(), 3u);  // no temporary file left
}

TEST_F(FileIo, InputsMustBeRegularFilesUnderTheLimit) {
  EXPECT_THROW(mls::read_input_file(dir_.string(), "table", 100), mls::Error);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_THROW(mls::read_input_file(path("fifo"), "table", 100), mls::Error);  // must not block
  put(path("big"), std::string(101, 'x'));
  EXPECT_THROW(mls::read_input_file(path("big"), "table", 100), mls::Error);
  EXPECT_EQ(mls::read_input_file(path("big"), "table", 101).size(), 101u);
  try {
    mls::read_input_file(path("missing"), "energy table", 100);
    FAIL();
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path("missing") + ": cannot open energy table"), std::string::npos);
  }
}

TEST_F(FileIo, AnOutputThatNamesAnInputIsRefused) {
  put(path("in.npy"), "x");
  fs::create_symlink(path("in.npy"), path("link.npy"));
  const std::vector<std::string> inputs = {path("in.npy")};
  EXPECT_THROW(mls::check_output_not_input("--out", path("in.npy"), inputs), mls::Error);
  EXPECT_THROW(mls::check_output_not_input("--out", path("link.npy"), inputs), mls::Error);
  EXPECT_THROW(mls::check_output_not_input("--out", path("d/../in.npy"), inputs), mls::Error);
  EXPECT_NO_THROW(mls::check_output_not_input("--out", path("other.npy"), inputs));
  EXPECT_THROW(mls::check_output_not_input("--out", path("new.npy"), {path("new.npy")}), mls::Error);
}

TEST_F(FileIo, OutputParentsAreCheckedUpFront) {
  EXPECT_THROW(mls::check_output_parent("--report", path("no/such/r.json")), mls::Error);
  EXPECT_THROW(mls::check_output_parent("--report", dir_.string()), mls::Error);
  EXPECT_NO_THROW(mls::check_output_parent("--report", path("r.json")));
}

// A directory that appears on one target between staging and commit: the
// commit renames nothing in (issue 29, finding 2).
TEST_F(FileIo, ADirectoryOnOneTargetRenamesNothingIn) {
  put(path("a"), "old a");
  mls::OutputSet out;
  out.stage(path("a"), "new a");
  out.stage(path("b"), "new b");
  fs::create_directory(path("b"));
  EXPECT_THROW(out.commit(), mls::Error);
  EXPECT_EQ(slurp(path("a")), "old a");
  EXPECT_TRUE(fs::is_directory(path("b")));
}

TEST_F(FileIo, SocketsDirectoriesAndEmptyPathsAreRefusedTargets) {
  EXPECT_THROW(mls::check_output_target("--report", ""), mls::Error);
  EXPECT_THROW(mls::check_output_target("--report", dir_.string()), mls::Error);
  EXPECT_EQ(mls::check_output_target("--report", path("new.json")), mls::OutputTarget::file);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(mls::check_output_target("--report", path("fifo")), mls::OutputTarget::stream);
  EXPECT_EQ(mls::check_output_target("--report", "/dev/stdout"), mls::OutputTarget::stream);
}

// Character devices made here (root only): 1,3 behaves as /dev/null, 1,7 as
// /dev/full. Neither is ever replaced by a file; a full one fails the commit,
// which puts back the file it had already replaced (issue 29, finding 1).
TEST_F(FileIo, DevicesAreWrittenIntoAndAFailedStreamRollsTheFilesBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  ASSERT_EQ(::mknod(path("null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0);
  ASSERT_EQ(::mknod(path("full").c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
  mls::write_file_atomic(path("null"), "into the void");
  EXPECT_TRUE(fs::is_character_file(path("null")));
  put(path("kept"), "old");
  mls::OutputSet out;
  out.stage(path("kept"), "new");
  out.stage(path("fresh"), "new");
  out.stage(path("full"), "report");
  EXPECT_THROW(out.commit(), mls::Error);
  EXPECT_TRUE(fs::is_character_file(path("full")));
  EXPECT_EQ(slurp(path("kept")), "old");
  EXPECT_FALSE(fs::exists(path("fresh")));
  EXPECT_EQ(entries(), 3u);  // null, full, kept: no temporary file or backup left
}

TEST(QuotedExcerpt, ShortensAndHidesControlCharacters) {
  EXPECT_EQ(mls::quoted_excerpt("e2m4"), "'e2m4'");
  EXPECT_EQ(mls::quoted_excerpt("a\nb"), "'a?b'");
  const std::string long_text(10000, 'k');
  const std::string q = mls::quoted_excerpt(long_text);
  EXPECT_LT(q.size(), 100u);
  EXPECT_NE(q.find("10000 characters"), std::string::npos);
}

}  // namespace
