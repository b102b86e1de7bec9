// The tree comparison is the flattener's main oracle: it must notice each
// kind of difference it claims to check.
#include "testing/tree_compare.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

class TreeCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string side : {"a", "b"}) {
      fs::create_directories(dir_ / side + "/sub");
      std::ofstream(dir_ / side + "/sub/file") << "same";
      fs::create_symlink("sub/file", dir_ / side + "/link");
      struct timespec times[2] = {{1000, 5}, {1000, 5}};
      ::utimensat(AT_FDCWD, (dir_ / side + "/sub/file").c_str(), times, 0);
      ::utimensat(AT_FDCWD, (dir_ / side + "/sub").c_str(), times, 0);
      ::utimensat(AT_FDCWD, (dir_ / side + "/link").c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }
  std::vector<std::string> Diff() { return CompareTrees(dir_ / "a", dir_ / "b"); }
  ScratchDir dir_;
};

TEST_F(TreeCompareTest, EqualTreesHaveNoDifferences) { EXPECT_TRUE(Diff().empty()); }

TEST_F(TreeCompareTest, NoticesContentModeTimeXattrAndNames) {
  std::ofstream(dir_ / "b/sub/file") << "diff";
  struct timespec times[2] = {{1000, 5}, {1000, 5}};
  ::utimensat(AT_FDCWD, (dir_ / "b/sub/file").c_str(), times, 0);
  EXPECT_EQ(Diff().size(), 1u);
  std::ofstream(dir_ / "b/sub/file") << "same";
  ::utimensat(AT_FDCWD, (dir_ / "b/sub/file").c_str(), times, 0);
  ASSERT_TRUE(Diff().empty());

  ::chmod((dir_ / "b/sub/file").c_str(), 0600);
  EXPECT_FALSE(Diff().empty());
  ::chmod((dir_ / "a/sub/file").c_str(), 0600);
  ASSERT_TRUE(Diff().empty());

  struct timespec later[2] = {{1000, 6}, {1000, 6}};
  ::utimensat(AT_FDCWD, (dir_ / "b/sub/file").c_str(), later, 0);
  EXPECT_FALSE(Diff().empty());
  ::utimensat(AT_FDCWD, (dir_ / "b/sub/file").c_str(), times, 0);

  ASSERT_EQ(::setxattr((dir_ / "b/sub/file").c_str(), "user.k", "v", 1, 0), 0);
  EXPECT_FALSE(Diff().empty());
  ::removexattr((dir_ / "b/sub/file").c_str(), "user.k");

  fs::create_hard_link(dir_ / "b/sub/file", dir_ / "b/hard");
  EXPECT_GE(Diff().size(), 2u);  // an extra name and a link count
}

}  // namespace
}  // namespace lode::testing
