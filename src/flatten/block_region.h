// An append-only region of 4 KiB blocks that file data is streamed into. All
// -zero blocks are not stored (they become holes), so sparse files and zero
// runs cost nothing. Produces each file's extents relative to the region.
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
  Status AlignTo(uint64_t blocks);
  // Restarts an empty region (the spill file between layers).
  Status Reset();
  Status Flush();

  // Streams the current entry's data from `reader`; extents are appended.
  Status AppendFile(image::TarReader& reader, std::vector<ext4::DataExtent>* extents);
  // Stores one logical block of a file.
  Status Put(uint64_t logical, std::span<const uint8_t> block,
             std::vector<ext4::DataExtent>* extents);

 private:
  WriteFn write_;
  uint64_t cursor_ = 0;
  uint64_t buffer_start_ = 0;  // block where buffer_ begins
  std::vector<uint8_t> buffer_;
};

}  // namespace lode::flatten
