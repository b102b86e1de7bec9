// ByteSource: a pull stream of bytes, and the wrappers that layer inputs are
// built from (file ranges, digest verification, decompression).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/file.h"
#include "util/sha256.h"
#include "util/status.h"

namespace lode::image {

// A forward-only stream. Read returns the number of bytes placed in `out`,
// 0 only at the end of the stream. Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> Read(std::span<uint8_t> out) = 0;
  // Like Read, but the source may hand out its own buffer instead of copying
  // into `scratch`; the view is valid until the next call. Empty at the end.
  virtual Result<std::span<const uint8_t>> ReadView(std::vector<uint8_t>& scratch);
  // Discards up to `n` bytes and returns how many were discarded (fewer only
  // at the end). The default reads; sources that can seek override it.
  virtual Result<uint64_t> Skip(uint64_t n);
};

// Reads a whole file (or the part of it from the current position).
std::unique_ptr<ByteSource> NewFileSource(UniqueFd fd, std::string name);

// "sha256:<64 hex>", validated; the only digest algorithm lode accepts.
struct Digest {
  Sha256Digest bytes;
  std::string ToString() const;  // "sha256:<hex>"
  std::string Hex() const;
  bool operator==(const Digest&) const = default;
};
Result<Digest> ParseDigest(const std::string& text);

// Passes bytes through while hashing them. When the inner source ends, the
// digest (and the size, when given) is compared with the expectation and a
// mismatch is returned as Corruption naming `name`. With no expected digest it
// only measures; `digest()` is valid once the stream has ended.
class HashingSource : public ByteSource {
 public:
  HashingSource(std::unique_ptr<ByteSource> inner, std::string name, std::optional<Digest> expected,
                std::optional<uint64_t> expected_size);
  Result<size_t> Read(std::span<uint8_t> out) override;
  const Digest& digest() const { return digest_; }
  uint64_t size() const { return size_; }
  // True once the stream ended and did not match its expectation.
  bool mismatched() const { return mismatched_; }

 private:
  Status Verify();
  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  std::optional<Digest> expected_;
  std::optional<uint64_t> expected_size_;
  Sha256 hasher_;
  Digest digest_{};
  uint64_t size_ = 0;
  bool done_ = false;
  bool mismatched_ = false;
};

// kAuto sniffs the magic number of the stream when it is first read.
enum class Compression { kNone, kGzip, kZstd, kAuto };

// Guesses the compression from the first bytes of a stream (magic numbers).
Compression SniffCompression(std::span<const uint8_t> head);

// Decompresses `inner`. Gzip (multi-member) is inflated with ISA-L's igzip and
// its CRC checked; zstd with libzstd. Truncated or corrupt input is Corruption
// naming `name`.
std::unique_ptr<ByteSource> NewDecompressor(std::unique_ptr<ByteSource> inner, Compression c,
                                            std::string name);

// Reads to the end of `source`, discarding the bytes (completes verification).
Status Drain(ByteSource& source);

}  // namespace lode::image
