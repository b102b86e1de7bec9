// Writes trees too large for the integration images (two-level hashed
// directories, extent trees with index blocks) and checks them with e2fsck
// and debugfs, which share no code with the writer.
#include "flatten/ext4/writer.h"

#include <gtest/gtest.h>

#include "flatten/ext4/format.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::flatten::ext4 {
namespace {

using lode::testing::RunCommand;
using lode::testing::ScratchDir;
using lode::testing::ShellQuote;

FsInode DirInode() {
  FsInode d;
  d.mode = kModeDirectory | 0755;
  return d;
}

FsTree BaseTree() {
  FsTree t;
  t.inodes = {DirInode(), DirInode()};
  t.inodes[1].mode = kModeDirectory | 0700;
  t.entries = {{{"lost+found", 1}}, {}};
  t.parent = {0, 0};
  return t;
}

uint32_t Add(FsTree& t, uint32_t dir, const std::string& name, FsInode inode) {
  uint32_t i = static_cast<uint32_t>(t.inodes.size());
  if ((inode.mode & kModeTypeMask) != kModeDirectory) inode.links = 1;
  t.inodes.push_back(std::move(inode));
  t.entries.emplace_back();
  t.parent.push_back(dir);
  t.entries[dir].push_back({name, i});
  return i;
}

std::string WriteImage(const ScratchDir& dir, FsTree& tree, uint64_t data_blocks,
                       const std::function<void(ImageSink*)>& write_data = nullptr) {
  for (auto& entries : tree.entries) {
    std::sort(entries.begin(), entries.end(),
              [](const FsDirEntry& a, const FsDirEntry& b) { return a.name < b.name; });
  }
  std::string path = dir / "fs.ext4";
  auto sink = NewFileSink(path).value();
  if (write_data) write_data(sink.get());
  WriterOptions o;
  o.data_blocks = data_blocks;
  o.data_alignment = 512 * 1024;
  o.headroom_bytes = 1 << 20;
  o.extra_inodes = 100;
  o.uuid[0] = 1;
  o.hash_seed = {1, 2, 3, 4};
  Result<WriterStats> stats = WriteMetadata(tree, o, sink.get());
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(sink->Finish().ok());
  return path;
}

TEST(WriterTest, TwoLevelHashedDirectoryPassesE2fsck) {
  ScratchDir dir;
  FsTree t = BaseTree();
  uint32_t big = Add(t, 0, "big", DirInode());
  FsInode empty;
  empty.mode = kModeRegular | 0644;
  for (int i = 0; i < 130000; ++i)
    Add(t, big, "entry-with-a-longish-name-" + std::to_string(i), empty);
  std::string image = WriteImage(dir, t, 0);
  auto fsck = RunCommand("e2fsck -fn " + ShellQuote(image));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output.substr(0, 2000);
  auto stat = RunCommand("debugfs -R 'htree_dump /big' " + ShellQuote(image) + " | head -5");
  EXPECT_NE(stat.output.find("Indirect levels: 1"), std::string::npos) << stat.output;
  auto lookup =
      RunCommand("debugfs -R 'stat /big/entry-with-a-longish-name-129999' " + ShellQuote(image));
  EXPECT_NE(lookup.output.find("Type: regular"), std::string::npos) << lookup.output;
}

TEST(WriterTest, FragmentedFileWithIndexedExtentTreePassesE2fsck) {
  ScratchDir dir;
  FsTree t = BaseTree();
  FsInode file;
  file.mode = kModeRegular | 0644;
  constexpr uint32_t kFragments = 2000;  // every other block: one extent each
  file.size = uint64_t{kFragments} * 2 * kBlockSize;
  for (uint32_t i = 0; i < kFragments; ++i) file.extents.push_back({i * 2, 1, i});
  Add(t, 0, "fragmented", file);
  std::string image = WriteImage(dir, t, kFragments, [](ImageSink* sink) {
    std::vector<uint8_t> block(kBlockSize);
    for (uint32_t i = 0; i < kFragments; ++i) {
      std::fill(block.begin(), block.end(), static_cast<uint8_t>(i % 250 + 1));
      ASSERT_TRUE(sink->WriteData(uint64_t{i} * kBlockSize, block).ok());
    }
  });
  auto fsck = RunCommand("e2fsck -fn " + ShellQuote(image));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output.substr(0, 2000);
  // Block 2*1999 of the file holds fragment 1999's bytes; odd blocks are holes.
  auto dump =
      RunCommand("debugfs -R 'dump /fragmented " + dir.path() + "/out' " + ShellQuote(image));
  FILE* f = std::fopen((dir / "out").c_str(), "rb");
  ASSERT_NE(f, nullptr) << dump.output;
  std::fseek(f, long{1999} * 2 * kBlockSize, SEEK_SET);
  EXPECT_EQ(std::fgetc(f), 1999 % 250 + 1);
  std::fseek(f, long{1999} * 2 * kBlockSize - 1, SEEK_SET);
  EXPECT_EQ(std::fgetc(f), 0);
  std::fclose(f);
}

}  // namespace
}  // namespace lode::flatten::ext4
