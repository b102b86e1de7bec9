// Where an image stores pages away from their own offsets. A manifest's
// config may carry "page_map": [[page, source, count], ...] in 4 KiB
// pages: the block file's pages [page, page + count) are the stored pages
// [source, source + count); every other page is stored in place. A
// snapshot keeps the guest memory pages a restore touches together this
// way, so a restore loads few chunks (docs/formats/manifest.md).
// Immutable, so thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::manifest {

class PageMap {
 public:
  static constexpr uint64_t kPageSize = 4096;

  // The map in an image's config (`config` JSON); empty when it has none.
  // Runs out of order, overlapping, empty, beyond `file_bytes`, or stored
  // on pages that are themselves moved are Corruption.
  static Result<PageMap> FromConfig(const std::string& config, uint64_t file_bytes);

  bool empty() const { return runs_.empty(); }
  // Splits [offset, offset + bytes) of the block file into pieces stored
  // contiguously and calls `read(stored_offset, position, length)` for
  // each, in order (`position` counts from `offset`); stops at the first
  // error.
  using PieceReader = std::function<Status(uint64_t stored, uint64_t position, uint64_t length)>;
  Status ForEachPiece(uint64_t offset, uint64_t bytes, const PieceReader& read) const;
  // Calls `move(page, source, count)` for each run, in order.
  void ForEachRun(
      const std::function<void(uint64_t page, uint64_t source, uint64_t count)>& move) const {
    for (const Run& r : runs_) move(r.page, r.source, r.count);
  }

 private:
  struct Run {
    uint64_t page, source, count;
  };
  std::vector<Run> runs_;  // by page
};

}  // namespace lode::manifest
