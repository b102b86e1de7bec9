// Writes the metadata region of an ext4 filesystem for a finished FsTree whose
// file data is already in the data region. Layout and encoding decisions are
// documented in docs/formats/ext4-layout.md.
#pragma once

#include <array>
#include <cstdint>

#include "flatten/ext4/fs_tree.h"
#include "flatten/sink.h"
#include "util/status.h"

namespace lode::flatten::ext4 {

struct WriterOptions {
  uint64_t data_blocks = 0;     // size of the data region in blocks
  uint32_t data_alignment = 0;  // data region start, in bytes (a multiple of kBlockSize)
  uint64_t headroom_bytes = 0;  // free space after the data
  uint32_t extra_inodes = 0;    // free inodes for files created later
  std::array<uint8_t, 16> uuid{};
  std::array<uint32_t, 4> hash_seed{};
};

struct WriterStats {
  uint64_t total_bytes = 0;
  uint64_t metadata_bytes = 0;  // used metadata blocks (before alignment padding)
  uint32_t inodes_used = 0;
};

// Calls sink->BeginMetadata and WriteMetadata; the caller calls Finish.
Result<WriterStats> WriteMetadata(const FsTree& tree, const WriterOptions& options,
                                  ImageSink* sink);

}  // namespace lode::flatten::ext4
