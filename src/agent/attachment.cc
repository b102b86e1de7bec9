#include "agent/attachment.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "util/clock.h"

namespace lode::agent {

constexpr int kPrefetchNice = 10;
namespace {

constexpr uint64_t kPage = Overlay::kPageSize;
enum ChunkUse : uint8_t { kRead = 1, kPrefetched = 2, kFetched = 4 };

}  // namespace

Attachment::Attachment(AttachmentInfo info, store::ImageRef ref, manifest::Manifest manifest,
                       ChunkReader& reader, std::unique_ptr<Overlay> overlay,
                       manifest::PageMap pages, Relocate relocate)
    : info_(std::move(info)),
      ref_(std::move(ref)),
      manifest_(std::move(manifest)),
      reader_(reader),
      overlay_(std::move(overlay)),
      page_map_(std::move(pages)),
      pages_read_(info_.size),
      relocate_(std::move(relocate)),
      chunk_use_(std::make_unique<std::atomic<uint8_t>[]>(manifest_.chunks.size())) {}

Attachment::~Attachment() { StopPrefetch(); }

void Attachment::StartPrefetch(std::vector<uint32_t> chunks, int parallelism) {
  prefetch_ = std::move(chunks);
  counters_.prefetch_chunks = prefetch_.size();
  counters_.prefetch_start_ns = MonotonicNanos();
  int threads = std::max(1, std::min<int>(parallelism, static_cast<int>(prefetch_.size())));
  prefetch_running_ = threads;
  for (int i = 0; i < threads; ++i) prefetch_threads_.emplace_back([this] { PrefetchWorker(); });
}

void Attachment::PrefetchWorker() {
  // Below demand reads for the CPU too: on a busy worker the start's own
  // reads (and the start itself) come first, the prefetch takes what is left.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kPrefetchNice);
  while (!prefetch_cancel_.load(std::memory_order_relaxed)) {
    size_t i = prefetch_next_.fetch_add(1);
    if (i >= prefetch_.size()) break;
    uint64_t index = prefetch_[i];
    std::string root;
    manifest::ChunkEntry entry;
    {
      // Profiles are checked against the chunk count when opened, and a
      // retarget keeps the table's shape: the index is in range.
      std::shared_lock lock(mu_);
      root = ref_.root;
      entry = manifest_.chunks[index];
    }
    if (entry.hole()) continue;
    Result<PlainChunk> chunk = reader_.Read(root, entry, index, PlainSize(index));
    (chunk.ok() ? counters_.prefetched : counters_.prefetch_errors)++;
    if (chunk.ok()) NoteUse(index, kPrefetched, *chunk);
  }
  if (prefetch_running_.fetch_sub(1) == 1) counters_.prefetch_done_ns = MonotonicNanos();
}

void Attachment::NoteUse(uint64_t index, uint8_t use, const PlainChunk& chunk) {
  if (chunk.source == ChunkSource::kL2 || chunk.source == ChunkSource::kOrigin) use |= kFetched;
  chunk_use_[index].fetch_or(use, std::memory_order_relaxed);
}

RangeUse Attachment::UseOf(uint64_t offset, uint64_t bytes) const {
  RangeUse use;
  offset = std::min(offset, info_.size);
  bytes = std::min(bytes, info_.size - offset);
  if (bytes == 0) return use;
  std::shared_lock lock(mu_);
  uint64_t last = (offset + bytes - 1) / manifest_.chunk_size;
  for (uint64_t i = offset / manifest_.chunk_size; i <= last; ++i) {
    const manifest::ChunkEntry& entry = manifest_.chunks[i];
    if (entry.hole()) continue;
    uint8_t u = chunk_use_[i].load(std::memory_order_relaxed);
    use.chunks_stored++;
    use.chunks_read += (u & kRead) != 0;
    use.chunks_prefetched += (u & kPrefetched) != 0;
    use.chunks_loaded += (u & (kRead | kPrefetched)) != 0;
    if (u & kFetched) {
      use.chunks_fetched++;
      use.fetched_bytes += entry.stored_length;
    }
  }
  return use;
}

size_t Attachment::PlainSize(uint64_t index) const {
  uint64_t start = index * manifest_.chunk_size;
  return static_cast<size_t>(std::min<uint64_t>(manifest_.chunk_size, info_.size - start));
}

void Attachment::StopPrefetch() {
  prefetch_cancel_ = true;
  for (std::thread& t : prefetch_threads_) t.join();
  prefetch_threads_.clear();
}

Status Attachment::Read(uint64_t offset, std::span<uint8_t> out) {
  if (offset > info_.size || out.size() > info_.size - offset) {
    return Status::InvalidArgument("read beyond the end of the image");
  }
  if (counters_.first_read_ns.load(std::memory_order_relaxed) == 0) {
    int64_t none = 0;
    counters_.first_read_ns.compare_exchange_strong(none, MonotonicNanos());
  }
  counters_.reads++;
  counters_.bytes_read += out.size();
  pages_read_.Mark(offset, out.size());
  Status s;
  uint64_t read_from;
  {
    std::shared_lock lock(mu_);
    read_from = retargets_;
    s = ReadLocked(offset, out);
  }
  // The image's root may be gone: gc migrated it, and this attachment slept
  // through the whole cycle.
  if (s.code() == StatusCode::kNotFound && relocate_) {
    relocate_(*this);
    std::shared_lock lock(mu_);
    if (retargets_ != read_from) s = ReadLocked(offset, out);
  }
  if (!s.ok()) counters_.read_errors++;
  return s;
}

Status Attachment::ReadLocked(uint64_t offset, std::span<uint8_t> out) {
  if (overlay_ && overlay_->AnyWritten(offset, out.size())) return ReadMixed(offset, out);
  return ReadBase(offset, out);
}

// Page by page: written pages from the overlay, the rest from the chunks.
Status Attachment::ReadMixed(uint64_t offset, std::span<uint8_t> out) {
  std::vector<uint8_t> page(kPage);
  uint64_t pos = offset, end = offset + out.size();
  while (pos < end) {
    uint64_t page_start = pos / kPage * kPage;
    uint64_t n = std::min(end, page_start + kPage) - pos;
    std::span<uint8_t> dst = out.subspan(pos - offset, n);
    if (overlay_->Written(pos / kPage)) {
      LODE_RETURN_IF_ERROR(overlay_->Read(page_start, page));
      std::memcpy(dst.data(), page.data() + (pos - page_start), n);
    } else {
      LODE_RETURN_IF_ERROR(ReadBase(pos, dst));
    }
    pos += n;
  }
  return Status::Ok();
}

Status Attachment::ReadBase(uint64_t offset, std::span<uint8_t> out) {
  if (page_map_.empty()) return ReadStored(offset, out);
  return page_map_.ForEachPiece(offset, out.size(), [&](uint64_t stored, uint64_t at, uint64_t n) {
    return ReadStored(stored, out.subspan(at, n));
  });
}

Status Attachment::ReadStored(uint64_t offset, std::span<uint8_t> out) {
  const uint64_t chunk_size = manifest_.chunk_size;
  uint64_t pos = offset, end = offset + out.size();
  while (pos < end) {
    uint64_t index = pos / chunk_size;
    uint64_t chunk_start = index * chunk_size;
    uint64_t n = std::min(end, chunk_start + chunk_size) - pos;
    uint8_t* dst = out.data() + (pos - offset);
    const manifest::ChunkEntry& entry = manifest_.chunks[index];
    if (entry.hole()) {
      std::memset(dst, 0, n);
    } else {
      if (recorder_) recorder_->Note(index);
      LODE_ASSIGN_OR_RETURN(PlainChunk chunk,
                            reader_.Read(ref_.root, entry, index, PlainSize(index)));
      switch (chunk.source) {
        case ChunkSource::kMemory:
          counters_.memory_hits++;
          break;
        case ChunkSource::kL1:
          counters_.l1_hits++;
          break;
        case ChunkSource::kL2:
          counters_.l2_hits++;
          break;
        case ChunkSource::kOrigin:
          counters_.origin_fetches++;
          break;
        case ChunkSource::kShared:
          counters_.shared_fetches++;
          break;
      }
      counters_.fetched_bytes += chunk.fetched_bytes;
      NoteUse(index, kRead, chunk);
      std::memcpy(dst, chunk.bytes->data() + (pos - chunk_start), n);
    }
    pos += n;
  }
  return Status::Ok();
}

store::ImageRef Attachment::ref() const {
  std::shared_lock lock(mu_);
  return ref_;
}

Status Attachment::Retarget(const store::ImageRef& ref, manifest::Manifest manifest) {
  std::unique_lock lock(mu_);
  bool same_shape = manifest.fs_size == manifest_.fs_size &&
                    manifest.chunk_size == manifest_.chunk_size &&
                    manifest.chunks.size() == manifest_.chunks.size();
  for (size_t i = 0; same_shape && i < manifest.chunks.size(); ++i) {
    same_shape = manifest.chunks[i].hole() == manifest_.chunks[i].hole();
  }
  if (!same_shape) {
    return Status::Corruption("manifest " + ref.ToString() + " does not describe the image of " +
                              ref_.ToString());
  }
  ref_ = ref;
  manifest_ = std::move(manifest);
  ++retargets_;
  return Status::Ok();
}

Status Attachment::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (!overlay_) return Status::Rejected("attachment " + info_.id + " is read-only");
  if (offset > info_.size || data.size() > info_.size - offset) {
    return Status::InvalidArgument("write beyond the end of the image");
  }
  if (data.empty()) return Status::Ok();
  counters_.writes++;
  counters_.bytes_written += data.size();
  std::unique_lock lock(mu_);
  uint64_t start = offset / kPage * kPage;
  uint64_t end = (offset + data.size() + kPage - 1) / kPage * kPage;
  std::vector<uint8_t> pages(end - start);
  // Partial first and last pages keep the bytes around the write.
  if (offset != start) LODE_RETURN_IF_ERROR(ReadLocked(start, std::span(pages).first(kPage)));
  if ((offset + data.size()) % kPage != 0 && (end - kPage > start || offset == start)) {
    LODE_RETURN_IF_ERROR(ReadLocked(end - kPage, std::span(pages).last(kPage)));
  }
  std::memcpy(pages.data() + (offset - start), data.data(), data.size());
  return overlay_->Write(start, pages);
}

Status Attachment::Flush() {
  if (!overlay_) return Status::Ok();
  std::unique_lock lock(mu_);
  return overlay_->Sync();
}

Result<std::string> Attachment::Close(bool keep) {
  StopPrefetch();
  if (!overlay_) return std::string();
  std::unique_lock lock(mu_);
  if (keep) {
    LODE_RETURN_IF_ERROR(overlay_->Sync());
    return overlay_->path();
  }
  overlay_->Discard();
  return std::string();
}

uint64_t Attachment::overlay_pages() const {
  std::shared_lock lock(mu_);
  return overlay_ ? overlay_->pages_written() : 0;
}

}  // namespace lode::agent
