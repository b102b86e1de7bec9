#include "flatten/ext4/extents.h"

#include <gtest/gtest.h>

#include "flatten/ext4/format.h"

namespace lode::flatten::ext4 {
namespace {

TEST(ExtentsTest, SplitsRunsLongerThanOneExtent) {
  auto out = SplitLongExtents({{0, 70000, 1000}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].logical, 32768u);
  EXPECT_EQ(out[1].physical, 1000u + 32768);
  EXPECT_EQ(out[2].length, 70000u - 65536);
}

TEST(ExtentsTest, TreeBlocksGrowByLevels) {
  EXPECT_EQ(ExtentTreeBlocks(4), 0u);
  EXPECT_EQ(ExtentTreeBlocks(5), 1u);
  EXPECT_EQ(ExtentTreeBlocks(340 * 4), 4u);
  EXPECT_EQ(ExtentTreeBlocks(340 * 4 + 1), 5u + 1);  // five leaves and one index block
}

TEST(ExtentsTest, InodeHoldsUpToFourExtents) {
  std::vector<Extent> e = {{0, 1, 100}, {5, 2, 200}};
  EncodedExtentTree t = EncodeExtentTree(e, 0);
  EXPECT_TRUE(t.blocks.empty());
  EXPECT_EQ(Get16(t.i_block.data()), kExtentMagic);
  EXPECT_EQ(Get16(t.i_block.data() + 2), 2);
  EXPECT_EQ(Get32(t.i_block.data() + 12 + 12), 5u);  // second extent's logical block
  EXPECT_EQ(Get32(t.i_block.data() + 12 + 12 + 8), 200u);
}

TEST(ExtentsTest, DeepTreePointsAtItsBlocks) {
  std::vector<Extent> e;
  for (uint32_t i = 0; i < 2000; ++i) e.push_back({i * 2, 1, 10000 + uint64_t{i} * 2});
  EncodedExtentTree t = EncodeExtentTree(e, 500);
  ASSERT_EQ(t.blocks.size(), size_t{ExtentTreeBlocks(2000)} * kBlockSize);
  EXPECT_EQ(Get16(t.i_block.data() + 6), 2);  // depth: leaves, one index level, the inode
  uint32_t root_children = Get16(t.i_block.data() + 2);
  EXPECT_EQ(root_children, 1u);
  uint64_t index_block = Get32(t.i_block.data() + 12 + 4);
  const uint8_t* index = t.blocks.data() + (index_block - 500) * kBlockSize;
  EXPECT_EQ(Get16(index + 6), 1);  // an index node
  EXPECT_EQ(Get16(index + 2), 6);  // ceil(2000 / 340) leaves
  const uint8_t* leaf = t.blocks.data() + (Get32(index + 12 + 12 + 4) - 500) * kBlockSize;
  EXPECT_EQ(Get32(leaf + 12), 340u * 2);  // second leaf starts at extent 340
}

}  // namespace
}  // namespace lode::flatten::ext4
