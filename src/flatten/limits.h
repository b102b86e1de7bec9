// What the flattener refuses to read, so a hostile image costs bounded
// memory, stack and time. Each limit, when reached, is one error naming it.
// Bigger real images than these are not known; a change here is a format
// decision (images over a limit cannot be pushed), so they are fixed, not
// options, except the size, which depends on the worker's disks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lode::flatten {

constexpr size_t kMaxLayers = 256;         // Docker stops at 125
constexpr size_t kMaxPathBytes = 4096;     // PATH_MAX, a path as written in the tar
constexpr size_t kMaxPathDepth = 1024;     // directories the tree is walked through
constexpr size_t kMaxNameBytes = 255;      // one path component (ext4's limit)
constexpr uint64_t kMaxEntries = 4000000;  // tar entries in all layers
// Extended attributes (names and values): more than ext4 can hold for one
// inode (its spare space and one 4 KiB block) is refused while reading, not
// after every entry has been kept in memory.
constexpr size_t kMaxXattrBytesPerEntry = 8 * 1024;
constexpr uint64_t kMaxXattrBytes = 256 << 20;  // all entries
// Uncompressed layer bytes, all layers (FlattenOptions::max_tar_bytes).
constexpr uint64_t kDefaultMaxTarBytes = uint64_t{64} << 30;

}  // namespace lode::flatten
