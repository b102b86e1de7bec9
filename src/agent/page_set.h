// Which 4 KiB pages of a block file were read, a bit per page set as reads
// come (concurrently). What a snapshot's first restore reads of guest
// memory is what `lode function publish` stores together. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace lode::agent {

class PageSet {
 public:
  static constexpr uint64_t kPageSize = 4096;

  explicit PageSet(uint64_t file_bytes);

  // Marks every page overlapping [offset, offset + bytes).
  void Mark(uint64_t offset, uint64_t bytes);
  // The marked pages among those overlapping [offset, offset + bytes), as
  // runs {first page, count} in order.
  std::vector<std::pair<uint64_t, uint64_t>> Runs(uint64_t offset, uint64_t bytes) const;

 private:
  bool Marked(uint64_t page) const {
    return (words_[page / 64].load(std::memory_order_relaxed) >> (page % 64)) & 1;
  }

  uint64_t pages_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace lode::agent
