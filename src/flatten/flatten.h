// lode flatten: one streaming pass over an image's layers (top layer first)
// producing a deterministic ext4 image. See docs/formats/ext4-layout.md.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "flatten/layer_tree.h"
#include "flatten/limits.h"
#include "flatten/sink.h"
#include "image/image.h"
#include "util/status.h"

namespace lode::flatten {

struct FlattenOptions {
  // Free space left after the data, for writes through a copy-on-write overlay.
  uint64_t headroom_bytes = 64ull << 20;
  // Each layer's data starts at a multiple of this (bytes, a power of two >=
  // 4096): with the chunk size here, layers shared by two images give
  // identical chunks.
  uint32_t layer_alignment = 512 * 1024;
  // Free inodes for files created later; 0 picks one per 16 KiB of headroom
  // (at least 1024).
  uint32_t extra_inodes = 0;
  // Uncompressed bytes of all layers together; more is an error that names
  // the layer and how much it expanded (a decompression bomb). Other input
  // limits are fixed (flatten/limits.h).
  uint64_t max_tar_bytes = kDefaultMaxTarBytes;
};

struct FlattenProgress {
  int layer = 0;  // 1-based, counting from the top layer
  int layers = 0;
  uint64_t tar_bytes = 0;  // uncompressed bytes read so far, all layers
  uint64_t entries = 0;
};
using ProgressFn = std::function<void(const FlattenProgress&)>;

struct FlattenResult {
  uint64_t image_bytes = 0;
  uint64_t metadata_bytes = 0;
  uint64_t data_bytes = 0;  // data region, including alignment padding
  uint64_t tar_bytes = 0;   // uncompressed layer bytes read
  uint32_t inodes = 0;
  TreeStats tree;
  std::vector<image::Digest> diff_ids;  // bottom layer first
};

// Flattens `image` into `sink` and calls sink->Finish() on success. On error
// the sink is left unfinished (a file sink then leaves no file).
Result<FlattenResult> Flatten(const image::Image& image, const FlattenOptions& options,
                              ImageSink* sink, const ProgressFn& progress = nullptr);

}  // namespace lode::flatten
