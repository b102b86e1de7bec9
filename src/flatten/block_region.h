// An append-only region of 4 KiB blocks that file data is streamed into. All
// -zero blocks are not stored (they become holes), so sparse files and zero
// runs cost nothing. Produces each file's extents relative to the region.
// Blocks are handed to the write function one at a time, at increasing
// offsets; it is expected to buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "flatten/ext4/fs_tree.h"
#include "image/tar_reader.h"
#include "util/status.h"

namespace lode::flatten {

class BlockRegion {
 public:
  using WriteFn = std::function<Status(uint64_t offset, std::span<const uint8_t> bytes)>;
  explicit BlockRegion(WriteFn write);

  uint64_t cursor() const { return cursor_; }  // blocks used so far
  // Moves the cursor up to a multiple of `blocks`.
  void AlignTo(uint64_t blocks);

  // Streams the current entry's data from `reader`; extents are appended.
  Status AppendFile(image::TarReader& reader, std::vector<ext4::DataExtent>* extents);
  // Stores one logical block of a file.
  Status Put(uint64_t logical, std::span<const uint8_t> block,
             std::vector<ext4::DataExtent>* extents);

 private:
  WriteFn write_;
  uint64_t cursor_ = 0;
};

}  // namespace lode::flatten
