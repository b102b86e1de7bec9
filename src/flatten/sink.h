// Where a flattened image goes. The flattener writes the data region while it
// streams the layers (it does not yet know how much metadata there will be),
// then fixes the layout and writes the metadata region in front of it:
//
//   [0, data_offset)          metadata (superblock ... directories, xattrs)
//   [data_offset, +data)      file data, each layer's data starting aligned
//   [.., total_bytes)         free space (headroom), zeros
//
// A file sink shifts the data up without copying it; a chunking sink (push)
// can cut data chunks as they stream because data_offset is chunk-aligned.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "util/file.h"
#include "util/status.h"

namespace lode::flatten {

class ImageSink {
 public:
  virtual ~ImageSink() = default;
  // Data region bytes at `offset` from its start. Offsets only increase
  // between calls; skipped ranges are zeros. Calls come a block at a time:
  // sinks buffer.
  virtual Status WriteData(uint64_t offset, std::span<const uint8_t> bytes) = 0;
  // Called once, after the last WriteData: the data region starts at
  // `data_offset` of an image `total_bytes` long.
  virtual Status BeginMetadata(uint64_t data_offset, uint64_t total_bytes) = 0;
  // Metadata bytes at absolute offsets below data_offset, increasing.
  virtual Status WriteMetadata(uint64_t offset, std::span<const uint8_t> bytes) = 0;
  // Completes the image. Not called when flattening fails; a sink then
  // discards what it has.
  virtual Status Finish() = 0;
};

// Writes the image to `path` atomically: it appears only after Finish().
Result<std::unique_ptr<ImageSink>> NewFileSink(const std::string& path);

}  // namespace lode::flatten
