#include "eigenq/io/atomic_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "eigenq/io/mapped_file.hpp"
#include "io_test_util.hpp"
#include "support/test_support.hpp"

namespace {

TEST(AtomicFile, CommitReplacesTheDestinationWhole) {
  io_test::TempDir dir;
  io_test::write_text(dir / "out", "old contents");
  {
    eigenq::io::AtomicFile f(dir / "out");
    f.write("new", 3);
    EXPECT_EQ(io_test::read_bytes(dir / "out").size(), 12u) << "the destination is untouched until commit";
    EXPECT_EQ(dir.entries().size(), 2u) << "the temporary file sits in the same folder";
    f.write_at(3, " contents!", 10);
    f.commit();
  }
  const auto bytes = io_test::read_bytes(dir / "out");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "new contents!");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out"});
}

TEST(AtomicFile, AFailureLeavesTheOldFileAndNoTemporary) {
  io_test::TempDir dir;
  io_test::write_text(dir / "out", "good");
  try {
    eigenq::io::AtomicFile f(dir / "out");
    f.write("partial", 7);
    throw std::runtime_error("a tensor failed");
  } catch (const std::runtime_error&) {
  }
  const auto bytes = io_test::read_bytes(dir / "out");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "good");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out"});
  {
    eigenq::io::AtomicFile f(dir / "fresh");
    f.write("x", 1);
    f.discard();
    EXPECT_THROW_WITH(f.write("y", 1), eigenq::IoError, "after the file was committed or discarded");
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out"});
}

TEST(AtomicFile, NewFilesGetOrdinaryPermissions) {
  io_test::TempDir dir;
  const mode_t old = ::umask(022);
  {
    eigenq::io::AtomicFile f(dir / "out");
    f.commit();
  }
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(AtomicFile, RefusesFoldersAndMissingFolders) {
  io_test::TempDir dir;
  EXPECT_THROW_WITH(eigenq::io::AtomicFile(dir.path().string()), eigenq::IoError, "not a regular file");
  EXPECT_THROW_WITH(eigenq::io::AtomicFile(dir / "missing/out"), eigenq::IoError, "cannot create a temporary file");
}

TEST(SameFile, SeesThroughLinks) {
  io_test::TempDir dir;
  io_test::write_text(dir / "a", "x");
  io_test::write_text(dir / "b", "x");
  ASSERT_EQ(::link((dir / "a").c_str(), (dir / "hard").c_str()), 0);
  ASSERT_EQ(::symlink((dir / "a").c_str(), (dir / "soft").c_str()), 0);
  EXPECT_TRUE(eigenq::io::same_file(dir / "a", dir / "a"));
  EXPECT_TRUE(eigenq::io::same_file(dir / "a", dir / "hard"));
  EXPECT_TRUE(eigenq::io::same_file(dir / "soft", dir / "a"));
  EXPECT_FALSE(eigenq::io::same_file(dir / "a", dir / "b"));
  EXPECT_FALSE(eigenq::io::same_file(dir / "a", dir / "missing"));
}

}  // namespace
