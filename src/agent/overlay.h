// Copy-on-write overlay of one writable attachment: a sparse file of the
// image's size holding the 4 KiB pages written so far, and a bitset saying
// which pages those are (PATH.pages, mapped shared: a page's bit is in the
// kernel's page cache as soon as the page is, so both outlive a crash of
// the agent). The image's chunks are never modified. Sync() makes both
// durable on disk. Not thread-safe: the attachment serializes writers
// against readers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "util/file.h"
#include "util/status.h"

namespace lode::agent {

class Overlay {
 public:
  static constexpr uint64_t kPageSize = 4096;

  // Creates an empty overlay for an image of `size` bytes at `path`.
  static Result<std::unique_ptr<Overlay>> Create(const std::string& path, uint64_t size);
  // Opens the overlay an earlier agent left at `path`, every page it wrote.
  static Result<std::unique_ptr<Overlay>> Open(const std::string& path, uint64_t size);

  ~Overlay();
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;

  bool Written(uint64_t page) const { return (bits_[page / 64] >> (page % 64)) & 1; }
  // True when any page overlapping [offset, offset + length) was written.
  bool AnyWritten(uint64_t offset, uint64_t length) const;
  // Reads whole written pages starting at page-aligned `offset`.
  Status Read(uint64_t offset, std::span<uint8_t> out) const;
  // Writes whole pages at page-aligned `offset` and marks them written.
  Status Write(uint64_t offset, std::span<const uint8_t> pages);
  Status Sync();
  // Removes the overlay's files.
  void Discard();

  const std::string& path() const { return path_; }
  uint64_t pages_written() const { return pages_written_; }

 private:
  Overlay(std::string path, UniqueFd fd, UniqueFd bits_fd, std::span<uint64_t> bits);
  // Opens (creating if asked) PATH and PATH.pages for an image of `size`.
  static Result<std::unique_ptr<Overlay>> OpenFiles(const std::string& path, uint64_t size,
                                                    bool create);

  std::string path_;
  UniqueFd fd_;
  UniqueFd bits_fd_;
  std::span<uint64_t> bits_;  // PATH.pages, mapped
  uint64_t pages_written_ = 0;
};

}  // namespace lode::agent
