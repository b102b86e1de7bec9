// Reads tar streams (ustar, pax, GNU: long names, xattrs, sparse files) with
// libarchive, pulling bytes from a ByteSource. Nothing is written to disk.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "image/byte_source.h"
#include "util/status.h"

struct archive;

namespace lode::image {

enum class EntryType { kFile, kDirectory, kSymlink, kHardlink, kCharDevice, kBlockDevice, kFifo };

struct Timestamp {
  int64_t sec = 0;
  uint32_t nsec = 0;
  bool operator==(const Timestamp&) const = default;
};

struct TarEntry {
  std::string path;  // as stored in the archive, not normalised
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;  // permission bits including setuid, setgid, sticky
  uint32_t uid = 0, gid = 0;
  Timestamp mtime;
  std::optional<Timestamp> atime, ctime;
  uint64_t size = 0;        // logical size of a regular file
  std::string link_target;  // symlink target, or the path a hardlink points to
  uint32_t dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;  // in archive order
};

// Not thread-safe. The source must outlive the reader.
class TarReader {
 public:
  // `name` identifies the stream in error messages ("layer 2 (sha256:...)").
  static Result<std::unique_ptr<TarReader>> Open(ByteSource* source, std::string name);
  ~TarReader();

  // Advances to the next entry; returns false at the end of the archive.
  // Unread data of the previous entry is skipped.
  Result<bool> Next(TarEntry* entry);

  // Reads the current regular file's data as blocks at increasing offsets;
  // holes of sparse files are not returned. Returns false after the last block.
  // The span stays valid until the next call.
  Result<bool> ReadBlock(uint64_t* offset, std::span<const uint8_t>* bytes);

 private:
  TarReader(ByteSource* source, std::string name);
  static long ReadCallback(struct archive*, void* self, const void** buffer);
  static int64_t SkipCallback(struct archive*, void* self, int64_t request);
  Status Error(const std::string& what) const;

  ByteSource* source_;
  std::string name_;
  struct archive* archive_ = nullptr;
  std::vector<uint8_t> buffer_;
  Status source_error_;
};

}  // namespace lode::image
