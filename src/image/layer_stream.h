// A layer's uncompressed tar, decoded ahead of the reader on another core.
//
// A producer thread reads the stored blob, checks its digest and size, and
// decompresses it into bounded queues of blocks (memory stays bounded): one
// to the reader, one to a hasher thread that computes the uncompressed digest
// (the diff_id) and checks it against the config. The reader thus does only
// its own work; the producer's errors reach it in stream order, the hasher's
// at the end.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "image/byte_source.h"
#include "image/image.h"

namespace lode::image {

class LayerStream : public ByteSource {
 public:
  static Result<std::unique_ptr<LayerStream>> Open(const Layer& layer);
  ~LayerStream() override;

  Result<size_t> Read(std::span<uint8_t> out) override;
  // Hands out the decoded blocks themselves: no copy.
  Result<std::span<const uint8_t>> ReadView(std::vector<uint8_t>& scratch) override;

  // Uncompressed bytes handed to the reader so far. Thread-safe.
  uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }
  // Stored (compressed) bytes decoded so far; runs ahead of bytes_read() by
  // what is queued. Thread-safe.
  uint64_t blob_bytes_read() const;
  // Once Read has returned 0: the uncompressed digest.
  const Digest& diff_id() const;
  // Once the stream has ended (Read returned 0 or an error from the end of
  // the blob): whether the stored blob failed its digest or size check. A
  // blob that fails it usually breaks decompression first; callers use this
  // to report the digest mismatch as the cause.
  bool blob_mismatched() const;

 private:
  struct Shared;
  Result<std::span<const uint8_t>> NextView(size_t max);
  explicit LayerStream(std::unique_ptr<Shared> shared);
  std::unique_ptr<Shared> shared_;
  std::atomic<uint64_t> bytes_read_{0};
};

}  // namespace lode::image
