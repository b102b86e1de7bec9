#include "flatten/block_region.h"

#include <algorithm>
#include <cstring>

#include "flatten/ext4/format.h"

namespace lode::flatten {
namespace {

constexpr uint64_t kMaxLogicalBlock = uint64_t{1} << 32;

bool IsZero(std::span<const uint8_t> block) {
  const uint8_t* p = block.data();
  uint64_t acc = 0;
  for (size_t i = 0; i < block.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

}  // namespace

using ext4::kBlockSize;

BlockRegion::BlockRegion(WriteFn write) : write_(std::move(write)) {}

void BlockRegion::AlignTo(uint64_t blocks) { cursor_ = (cursor_ + blocks - 1) / blocks * blocks; }

Status BlockRegion::Put(uint64_t logical, std::span<const uint8_t> block,
                        std::vector<ext4::DataExtent>* extents) {
  if (IsZero(block)) return Status::Ok();
  if (logical >= kMaxLogicalBlock) return Status::InvalidArgument("file larger than 16 TiB");
  LODE_RETURN_IF_ERROR(write_(cursor_ * kBlockSize, block));
  if (!extents->empty()) {
    ext4::DataExtent& last = extents->back();
    if (last.logical + uint64_t{last.length} == logical &&
        last.data_block + last.length == cursor_ && last.length < UINT32_MAX) {
      ++last.length;
      ++cursor_;
      return Status::Ok();
    }
  }
  extents->push_back({static_cast<uint32_t>(logical), 1, cursor_});
  ++cursor_;
  return Status::Ok();
}

Status BlockRegion::AppendFile(image::TarReader& reader, std::vector<ext4::DataExtent>* extents) {
  std::vector<uint8_t> staging(kBlockSize, 0);
  uint64_t staged_block = UINT64_MAX;  // logical block held in `staging`
  uint64_t end = 0;                    // end of the data seen so far
  auto flush_staged = [&]() -> Status {
    if (staged_block == UINT64_MAX) return Status::Ok();
    LODE_RETURN_IF_ERROR(Put(staged_block, staging, extents));
    std::fill(staging.begin(), staging.end(), 0);
    staged_block = UINT64_MAX;
    return Status::Ok();
  };
  while (true) {
    uint64_t offset;
    std::span<const uint8_t> bytes;
    LODE_ASSIGN_OR_RETURN(bool more, reader.ReadBlock(&offset, &bytes));
    if (!more) break;
    if (offset < end) return Status::Corruption("file data blocks out of order");
    end = offset + bytes.size();
    while (!bytes.empty()) {
      uint64_t block = offset / kBlockSize;
      size_t within = offset % kBlockSize;
      if (block != staged_block) LODE_RETURN_IF_ERROR(flush_staged());
      if (within == 0 && bytes.size() >= kBlockSize) {  // whole blocks skip the staging copy
        LODE_RETURN_IF_ERROR(Put(block, bytes.first(kBlockSize), extents));
        bytes = bytes.subspan(kBlockSize);
        offset += kBlockSize;
        continue;
      }
      size_t n = std::min<size_t>(kBlockSize - within, bytes.size());
      std::copy_n(bytes.begin(), n, staging.begin() + static_cast<ptrdiff_t>(within));
      staged_block = block;
      bytes = bytes.subspan(n);
      offset += n;
    }
  }
  return flush_staged();
}

}  // namespace lode::flatten
