#include "util/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace lode {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lode-file-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileTest, UncommittedAtomicFileLeavesNothing) {
  std::string path = dir_ / "out";
  {
    auto file = AtomicFile::Create(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(PWriteAll(file->fd(), std::span<const uint8_t>(), 0, path).ok());
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(FileTest, CommittedAtomicFileAppearsWithContents) {
  std::string path = dir_ / "out";
  ASSERT_TRUE(WriteFileAtomically(path, "hello").ok());
  EXPECT_EQ(ReadFileToString(path).value(), "hello");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(FileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFileToString(dir_ / "missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadFileToBytes(dir_ / "missing").status().code(), StatusCode::kNotFound);
}

TEST_F(FileTest, ReadFileToBytesReadsEverything) {
  std::string big(200000, 'z');
  big[12345] = 'a';
  ASSERT_TRUE(WriteFileAtomically(dir_ / "big", big).ok());
  auto bytes = ReadFileToBytes(dir_ / "big");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::string(bytes->begin(), bytes->end()), big);
  ASSERT_TRUE(WriteFileAtomically(dir_ / "empty", "").ok());
  EXPECT_TRUE(ReadFileToBytes(dir_ / "empty")->empty());
}

}  // namespace
}  // namespace lode
