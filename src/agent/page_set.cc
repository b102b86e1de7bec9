#include "agent/page_set.h"

#include <algorithm>

namespace lode::agent {

PageSet::PageSet(uint64_t file_bytes)
    : pages_((file_bytes + kPageSize - 1) / kPageSize),
      words_(std::make_unique<std::atomic<uint64_t>[]>((pages_ + 63) / 64)) {}

void PageSet::Mark(uint64_t offset, uint64_t bytes) {
  if (bytes == 0) return;
  uint64_t first = offset / kPageSize;
  uint64_t last = std::min(pages_, (offset + bytes + kPageSize - 1) / kPageSize);
  for (uint64_t page = first; page < last;) {
    // A word at a time: a 1 MiB read sets four words, not 256 bits.
    uint64_t bit = page % 64, n = std::min<uint64_t>(64 - bit, last - page);
    uint64_t mask = (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << bit;
    std::atomic<uint64_t>& word = words_[page / 64];
    if ((word.load(std::memory_order_relaxed) & mask) != mask) {
      word.fetch_or(mask, std::memory_order_relaxed);
    }
    page += n;
  }
}

std::vector<std::pair<uint64_t, uint64_t>> PageSet::Runs(uint64_t offset, uint64_t bytes) const {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  uint64_t size = pages_ * kPageSize;
  if (offset >= size) return runs;
  bytes = std::min(bytes, size - offset);
  uint64_t first = offset / kPageSize;
  uint64_t last = (offset + bytes + kPageSize - 1) / kPageSize;
  for (uint64_t page = first; page < last; ++page) {
    if (!Marked(page)) continue;
    if (!runs.empty() && runs.back().first + runs.back().second == page) {
      runs.back().second++;
    } else {
      runs.emplace_back(page, 1);
    }
  }
  return runs;
}

}  // namespace lode::agent
