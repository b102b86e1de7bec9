// Directory blocks: a single linear block when the entries fit, otherwise a
// hashed (dir_index) directory: a root index block, leaf blocks in hash order
// and, for very large directories, one level of index nodes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::flatten::ext4 {

struct DirEntryRef {
  const std::string* name;
  uint32_t ino;
  uint8_t file_type;
};

struct DirectoryBlocks {
  std::vector<uint8_t> bytes;  // a whole number of blocks, in logical order
  bool hashed = false;
  uint32_t BlockCount() const;
};

// `entries` exclude "." and ".."; `min_blocks` pads a linear directory with
// empty blocks (lost+found keeps room to reconnect files).
Result<DirectoryBlocks> BuildDirectory(const std::vector<DirEntryRef>& entries, uint32_t self,
                                       uint32_t parent, const std::array<uint32_t, 4>& hash_seed,
                                       uint32_t min_blocks = 1);

}  // namespace lode::flatten::ext4
