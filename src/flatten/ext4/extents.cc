#include "flatten/ext4/extents.h"

#include <algorithm>

#include "flatten/ext4/format.h"

namespace lode::flatten::ext4 {
namespace {

constexpr uint32_t kInodeSlots = 4;
constexpr uint32_t kBlockSlots = (kBlockSize - 12) / 12;

void PutHeader(uint8_t* p, uint16_t entries, uint16_t max, uint16_t depth) {
  Put16(p, kExtentMagic);
  Put16(p + 2, entries);
  Put16(p + 4, max);
  Put16(p + 6, depth);
  Put32(p + 8, 0);
}

void PutLeafEntry(uint8_t* p, const Extent& e) {
  Put32(p, e.logical);
  Put16(p + 4, static_cast<uint16_t>(e.length));
  Put16(p + 6, static_cast<uint16_t>(e.physical >> 32));
  Put32(p + 8, static_cast<uint32_t>(e.physical));
}

struct Child {
  uint32_t first_logical;
  uint64_t block;
};

void PutIndexEntry(uint8_t* p, const Child& c) {
  Put32(p, c.first_logical);
  Put32(p + 4, static_cast<uint32_t>(c.block));
  Put16(p + 8, static_cast<uint16_t>(c.block >> 32));
  Put16(p + 10, 0);
}

size_t Ceil(size_t a, size_t b) { return (a + b - 1) / b; }

}  // namespace

std::vector<Extent> SplitLongExtents(const std::vector<Extent>& runs) {
  std::vector<Extent> out;
  for (Extent e : runs) {
    while (e.length > kMaxExtentLength) {
      out.push_back({e.logical, kMaxExtentLength, e.physical});
      e.logical += kMaxExtentLength;
      e.physical += kMaxExtentLength;
      e.length -= kMaxExtentLength;
    }
    out.push_back(e);
  }
  return out;
}

uint32_t ExtentTreeBlocks(size_t extent_count) {
  uint32_t blocks = 0;
  size_t level = extent_count;
  while (level > kInodeSlots) {
    level = Ceil(level, kBlockSlots);
    blocks += static_cast<uint32_t>(level);
  }
  return blocks;
}

EncodedExtentTree EncodeExtentTree(const std::vector<Extent>& extents, uint64_t first_block) {
  EncodedExtentTree out;
  if (extents.size() <= kInodeSlots) {
    PutHeader(out.i_block.data(), static_cast<uint16_t>(extents.size()), kInodeSlots, 0);
    for (size_t i = 0; i < extents.size(); ++i)
      PutLeafEntry(out.i_block.data() + 12 + 12 * i, extents[i]);
    return out;
  }
  out.blocks.resize(size_t{ExtentTreeBlocks(extents.size())} * kBlockSize, 0);
  uint64_t next = 0;  // next tree block, relative to first_block
  // Leaves first, then each index level above them.
  std::vector<Child> children;
  for (size_t start = 0; start < extents.size(); start += kBlockSlots) {
    size_t n = std::min<size_t>(kBlockSlots, extents.size() - start);
    uint8_t* b = out.blocks.data() + next * kBlockSize;
    PutHeader(b, static_cast<uint16_t>(n), kBlockSlots, 0);
    for (size_t i = 0; i < n; ++i) PutLeafEntry(b + 12 + 12 * i, extents[start + i]);
    children.push_back({extents[start].logical, first_block + next++});
  }
  uint16_t depth = 1;
  while (children.size() > kInodeSlots) {
    std::vector<Child> parents;
    for (size_t start = 0; start < children.size(); start += kBlockSlots) {
      size_t n = std::min<size_t>(kBlockSlots, children.size() - start);
      uint8_t* b = out.blocks.data() + next * kBlockSize;
      PutHeader(b, static_cast<uint16_t>(n), kBlockSlots, depth);
      for (size_t i = 0; i < n; ++i) PutIndexEntry(b + 12 + 12 * i, children[start + i]);
      parents.push_back({children[start].first_logical, first_block + next++});
    }
    children = std::move(parents);
    ++depth;
  }
  PutHeader(out.i_block.data(), static_cast<uint16_t>(children.size()), kInodeSlots, depth);
  for (size_t i = 0; i < children.size(); ++i)
    PutIndexEntry(out.i_block.data() + 12 + 12 * i, children[i]);
  return out;
}

}  // namespace lode::flatten::ext4
