// On-disk constants of the ext4 images lode writes. docs/formats/ext4-layout.md
// explains the choices; values marked FROZEN are part of the image bytes, so
// changing them changes every image's chunks (and breaks dedup with old pushes).
#pragma once

#include <cstdint>

namespace lode::flatten::ext4 {

constexpr uint32_t kBlockSize = 4096;                 // FROZEN
constexpr uint32_t kLogBlockSize = 2;                 // 1024 << 2
constexpr uint32_t kBlocksPerGroup = 8 * kBlockSize;  // one bitmap block per group
constexpr uint32_t kMaxInodesPerGroup = 8 * kBlockSize;
constexpr uint32_t kInodeSize = 256;      // FROZEN
constexpr uint16_t kExtraInodeSize = 32;  // nanosecond times, crtime, projid
constexpr uint32_t kGroupDescSize = 32;   // no 64bit feature
constexpr uint32_t kFirstIno = 11;
constexpr uint32_t kRootIno = 2;
constexpr uint32_t kLostFoundIno = 11;
constexpr uint32_t kLostFoundBlocks = 4;  // as mke2fs: room to reconnect
constexpr uint32_t kLogGroupsPerFlex = 4;
constexpr uint32_t kMaxExtentLength = 32768;  // initialized extents
constexpr uint32_t kMaxLinks = 65000;
constexpr uint16_t kSuperMagic = 0xEF53;
constexpr uint16_t kExtentMagic = 0xF30A;
constexpr uint32_t kXattrMagic = 0xEA020000;

// Feature flags.
constexpr uint32_t kCompatExtAttr = 0x0008;
constexpr uint32_t kCompatDirIndex = 0x0020;
constexpr uint32_t kCompatSparseSuper2 = 0x0200;
constexpr uint32_t kIncompatFiletype = 0x0002;
constexpr uint32_t kIncompatExtents = 0x0040;
constexpr uint32_t kIncompatFlexBg = 0x0200;
constexpr uint32_t kRoCompatSparseSuper = 0x0001;
constexpr uint32_t kRoCompatLargeFile = 0x0002;
constexpr uint32_t kRoCompatDirNlink = 0x0020;
constexpr uint32_t kRoCompatExtraIsize = 0x0040;

constexpr uint32_t kCompatFeatures = kCompatExtAttr | kCompatDirIndex | kCompatSparseSuper2;
constexpr uint32_t kIncompatFeatures = kIncompatFiletype | kIncompatExtents | kIncompatFlexBg;
constexpr uint32_t kRoCompatFeatures =
    kRoCompatSparseSuper | kRoCompatLargeFile | kRoCompatDirNlink | kRoCompatExtraIsize;

// Inode flags.
constexpr uint32_t kIndexFl = 0x00001000;  // hashed directory
constexpr uint32_t kExtentsFl = 0x00080000;

// Superblock s_flags and directory hashing.
constexpr uint32_t kFlagsUnsignedHash = 0x0002;
constexpr uint8_t kHashHalfMd4 = 1;

// Directory entry file types.
enum FileType : uint8_t {
  kFtUnknown = 0,
  kFtRegular = 1,
  kFtDirectory = 2,
  kFtCharDevice = 3,
  kFtBlockDevice = 4,
  kFtFifo = 5,
  kFtSocket = 6,
  kFtSymlink = 7,
};

// POSIX file type bits of i_mode.
constexpr uint16_t kModeTypeMask = 0xF000;
constexpr uint16_t kModeFifo = 0x1000;
constexpr uint16_t kModeCharDevice = 0x2000;
constexpr uint16_t kModeDirectory = 0x4000;
constexpr uint16_t kModeBlockDevice = 0x6000;
constexpr uint16_t kModeRegular = 0x8000;
constexpr uint16_t kModeSymlink = 0xA000;

// Little-endian stores into a byte buffer.
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace lode::flatten::ext4
