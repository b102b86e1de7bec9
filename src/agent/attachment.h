// One attached image: the block file a sandbox mounts. Reads split into
// chunks; pages written through a writable attachment come from its overlay,
// the rest from the chunk (holes are zeros, never fetched). Writes never
// touch chunks: partial pages are merged with the page below and stored in
// the overlay. Reads run concurrently; a write excludes them. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/chunk_reader.h"
#include "agent/overlay.h"
#include "agent/page_set.h"
#include "agent/profile_recorder.h"
#include "manifest/manifest.h"
#include "manifest/page_map.h"
#include "store/layout.h"
#include "util/status.h"

namespace lode::agent {

struct AttachmentCounters {
  std::atomic<uint64_t> reads = 0;
  std::atomic<uint64_t> bytes_read = 0;
  std::atomic<uint64_t> writes = 0;
  std::atomic<uint64_t> bytes_written = 0;
  std::atomic<uint64_t> read_errors = 0;
  // Chunk reads by where the chunk came from.
  std::atomic<uint64_t> memory_hits = 0;
  std::atomic<uint64_t> l1_hits = 0;
  std::atomic<uint64_t> l2_hits = 0;
  std::atomic<uint64_t> origin_fetches = 0;
  std::atomic<uint64_t> shared_fetches = 0;  // joined another reader's fetch
  std::atomic<uint64_t> fetched_bytes = 0;   // stored bytes from L2 and the origin
  std::atomic<int64_t> first_read_ns = 0;    // CLOCK_MONOTONIC of the first read; 0 until then
  // Prefetch of the startup profile (StartPrefetch).
  std::atomic<uint64_t> prefetch_chunks = 0;  // in the profile
  std::atomic<uint64_t> prefetched = 0;       // fetched (or found cached) by the prefetch
  std::atomic<uint64_t> prefetch_errors = 0;
  std::atomic<int64_t> prefetch_start_ns = 0;  // CLOCK_MONOTONIC; 0: no prefetch
  std::atomic<int64_t> prefetch_done_ns = 0;   // 0 until every chunk was tried
};

// What an attachment did with the chunks of one byte range of its image
// (a snapshot's guest memory, say): how many are stored (not holes), how
// many were read by the sandbox or prefetched, and how many of those came
// from a remote tier (L2 or the origin) with how many stored bytes.
struct RangeUse {
  uint64_t chunks_stored = 0;
  uint64_t chunks_read = 0;
  uint64_t chunks_prefetched = 0;
  uint64_t chunks_loaded = 0;  // read or prefetched
  uint64_t chunks_fetched = 0;
  uint64_t fetched_bytes = 0;

  RangeUse& operator+=(const RangeUse& o) {
    chunks_stored += o.chunks_stored;
    chunks_read += o.chunks_read;
    chunks_prefetched += o.chunks_prefetched;
    chunks_loaded += o.chunks_loaded;
    chunks_fetched += o.chunks_fetched;
    fetched_bytes += o.fetched_bytes;
    return *this;
  }
};

struct AttachmentInfo {
  std::string id;
  uint64_t node = 0;  // its FUSE node id, unique for the life of the mount
  std::string tenant;
  uint64_t size = 0;
  uint64_t chunks = 0;
  uint64_t holes = 0;
  bool writable = false;
};

class Attachment {
 public:
  // Called when a chunk is missing from the origin: moves the attachment to
  // where gc migrated its image, if it did (Retarget); the read is retried
  // if the attachment moved.
  using Relocate = std::function<void(Attachment&)>;
  // `overlay` is null for a read-only attachment; `pages` says where the
  // image stores pages away from their offsets.
  Attachment(AttachmentInfo info, store::ImageRef ref, manifest::Manifest manifest,
             ChunkReader& reader, std::unique_ptr<Overlay> overlay, manifest::PageMap pages = {},
             Relocate relocate = nullptr);
  ~Attachment();

  // Reads `out.size()` bytes at `offset`; the range must lie within the image.
  Status Read(uint64_t offset, std::span<uint8_t> out);
  // The image the chunks come from.
  store::ImageRef ref() const;
  // Reads the same image through another manifest from now on (a migrated
  // copy): its chunk table must have the same shape and holes.
  Status Retarget(const store::ImageRef& ref, manifest::Manifest manifest);
  // Writes within the image; Rejected when the attachment is read-only.
  Status Write(uint64_t offset, std::span<const uint8_t> data);
  Status Flush();
  // Ends the attachment (stopping its prefetch): the overlay is removed
  // unless `keep`; returns its path when kept.
  Result<std::string> Close(bool keep);

  // Records the chunks this start reads; set before the first read.
  void SetRecorder(std::shared_ptr<ProfileRecorder> recorder) { recorder_ = std::move(recorder); }
  ProfileRecorder* recorder() const { return recorder_.get(); }
  // Reads `chunks` (a startup profile, in order) into the memory tier and L1
  // on `parallelism` threads. Each takes an admission slot like a demand
  // miss, so with few threads demand reads keep most slots; a demand read of
  // a chunk being prefetched joins that fetch. Failures are counted, never
  // fatal. Close() stops it.
  void StartPrefetch(std::vector<uint32_t> chunks, int parallelism);
  // The profile StartPrefetch was given (empty if none).
  const std::vector<uint32_t>& prefetch_profile() const { return prefetch_; }

  // What this attachment did with the chunks overlapping [offset,
  // offset + bytes) of its stored image (clipped to the image).
  RangeUse UseOf(uint64_t offset, uint64_t bytes) const;
  // The pages of [offset, offset + bytes) of the block file read since the
  // attach, as runs {first page, count}.
  std::vector<std::pair<uint64_t, uint64_t>> PagesRead(uint64_t offset, uint64_t bytes) const {
    return pages_read_.Runs(offset, bytes);
  }

  const AttachmentInfo& info() const { return info_; }
  const AttachmentCounters& counters() const { return counters_; }
  const std::string& config_json() const { return manifest_.image_config; }
  uint64_t overlay_pages() const;
  // Open block-file handles; an attachment in use cannot be detached.
  std::atomic<int>& open_handles() { return open_handles_; }

 private:
  Status ReadLocked(uint64_t offset, std::span<uint8_t> out);
  // Reads the image's own bytes (not the overlay's) at `offset` of the
  // block file, wherever the page map stores them.
  Status ReadBase(uint64_t offset, std::span<uint8_t> out);
  // Reads at `offset` of the stored image, its chunks in order.
  Status ReadStored(uint64_t offset, std::span<uint8_t> out);
  Status ReadMixed(uint64_t offset, std::span<uint8_t> out);
  // Bytes of chunk `index` (the last one may be short).
  size_t PlainSize(uint64_t index) const;
  void PrefetchWorker();
  // Marks chunk `index` with `use` (kRead, kPrefetched), and kFetched when
  // it came from a remote tier.
  void NoteUse(uint64_t index, uint8_t use, const PlainChunk& chunk);
  void StopPrefetch();

  AttachmentInfo info_;
  store::ImageRef ref_;  // guarded by mu_, like manifest_ and retargets_
  manifest::Manifest manifest_;
  uint64_t retargets_ = 0;
  ChunkReader& reader_;
  std::unique_ptr<Overlay> overlay_;
  const manifest::PageMap page_map_;
  PageSet pages_read_;
  Relocate relocate_;
  mutable std::shared_mutex mu_;
  AttachmentCounters counters_;
  // Per chunk, ChunkUse bits (attachment.cc).
  std::unique_ptr<std::atomic<uint8_t>[]> chunk_use_;
  std::atomic<int> open_handles_ = 0;
  std::shared_ptr<ProfileRecorder> recorder_;
  std::vector<uint32_t> prefetch_;  // set before the prefetch threads start
  std::atomic<size_t> prefetch_next_ = 0;
  std::atomic<int> prefetch_running_ = 0;
  std::atomic<bool> prefetch_cancel_ = false;
  std::vector<std::thread> prefetch_threads_;
};

}  // namespace lode::agent
