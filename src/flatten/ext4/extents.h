// Extent trees: up to four extents live in the inode; more get leaf blocks
// (340 extents each) and, when needed, index blocks above them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lode::flatten::ext4 {

struct Extent {
  uint32_t logical;
  uint32_t length;  // at most kMaxExtentLength
  uint64_t physical;
};

// Splits runs longer than an extent can describe.
std::vector<Extent> SplitLongExtents(const std::vector<Extent>& runs);

// Blocks the tree for `extent_count` extents needs outside the inode.
uint32_t ExtentTreeBlocks(size_t extent_count);

struct EncodedExtentTree {
  std::array<uint8_t, 60> i_block{};
  std::vector<uint8_t> blocks;  // ExtentTreeBlocks() blocks, for first_block onward
};

// Encodes the tree; its blocks are placed at first_block, first_block+1, ...
EncodedExtentTree EncodeExtentTree(const std::vector<Extent>& extents, uint64_t first_block);

}  // namespace lode::flatten::ext4
