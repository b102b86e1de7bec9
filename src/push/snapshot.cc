#include "push/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>

#include "chunk/convergent.h"
#include "push/chunk_uploader.h"
#include "push/target.h"
#include "util/file.h"

namespace lode::push {
namespace {

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// Whether [offset, offset + length) of `fd` holds any data (not only a
// hole); lseek(SEEK_DATA) answers without reading.
bool HasData(int fd, uint64_t offset, uint64_t length) {
  off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return errno != ENXIO;  // ENXIO: only holes from here on
  return static_cast<uint64_t>(data) < offset + length;
}

// Chunk `i` of a part into `chunk` (chunk-sized, zeroed); false when the
// part holds no data there, without reading.
using ChunkSource = std::function<Result<bool>(uint64_t i, std::span<uint8_t> chunk)>;

// Submits a part of `chunks` chunks as the block file's chunks `first`, ...
// (parts start on chunk boundaries); all-zero chunks stay holes. Whole
// chunks, zero-padded: only the block file's last chunk is short.
Status SubmitPart(uint64_t chunks, uint32_t chunk_size, uint64_t first, const ChunkSource& source,
                  ChunkUploader& uploader, std::mutex& mu,
                  std::vector<manifest::ChunkEntry>& table) {
  for (uint64_t i = 0; i < chunks; ++i) {
    std::vector<uint8_t> chunk(chunk_size);
    LODE_ASSIGN_OR_RETURN(bool data, source(i, chunk));
    if (!data || chunk::IsZero(chunk)) continue;
    uint64_t index = first + i;
    LODE_RETURN_IF_ERROR(
        uploader.Submit(std::move(chunk), [&mu, &table, index](const manifest::ChunkEntry& e) {
          std::lock_guard lock(mu);
          table[index] = e;
        }));
  }
  return Status::Ok();
}

// The chunks of the first `length` bytes of `fd`.
ChunkSource FileChunks(int fd, uint64_t length, const std::string& path) {
  return [fd, length, path](uint64_t i, std::span<uint8_t> chunk) -> Result<bool> {
    uint64_t offset = i * chunk.size();
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), length - offset));
    if (!HasData(fd, offset, n)) return false;
    LODE_RETURN_IF_ERROR(PReadAll(fd, chunk.first(n), offset, path));
    return true;
  };
}

std::vector<uint64_t> PagesOf(const PageRuns& runs) {
  std::vector<uint64_t> pages;
  for (auto [first, count] : runs) {
    for (uint64_t p = first; p < first + count; ++p) pages.push_back(p);
  }
  return pages;
}

}  // namespace

SnapshotLayout LayOutSnapshot(uint64_t memory_bytes, uint64_t packed_bytes, uint64_t state_bytes,
                              const manifest::Manifest& image) {
  SnapshotLayout l;
  l.memory_bytes = memory_bytes;
  l.packed_offset = RoundUp(memory_bytes, image.chunk_size);
  l.packed_bytes = packed_bytes;
  l.state_offset = RoundUp(l.packed_offset + packed_bytes, image.chunk_size);
  l.state_bytes = state_bytes;
  l.disk_offset = RoundUp(l.state_offset + state_bytes, image.chunk_size);
  l.disk_bytes = image.fs_size;
  return l;
}

Result<PageRuns> PackablePages(const std::string& memory_file, uint64_t memory_bytes,
                               uint32_t chunk_size, const PageRuns& touched) {
  UniqueFd fd(::open(memory_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + memory_file);
  ChunkSource chunks = FileChunks(fd.get(), memory_bytes, memory_file);
  std::map<uint64_t, bool> stored;  // by chunk index: whether it holds data
  std::vector<uint8_t> chunk(chunk_size);
  PageRuns packable;
  for (uint64_t page : PagesOf(touched)) {
    if (page >= memory_bytes / kMemoryPageSize) {
      return Status::InvalidArgument("page " + std::to_string(page) + " is beyond guest memory");
    }
    uint64_t index = page * kMemoryPageSize / chunk_size;
    auto it = stored.find(index);
    if (it == stored.end()) {
      std::fill(chunk.begin(), chunk.end(), 0);
      LODE_ASSIGN_OR_RETURN(bool data, chunks(index, chunk));
      it = stored.emplace(index, data && !chunk::IsZero(chunk)).first;
    }
    if (!it->second) continue;
    if (!packable.empty() && packable.back().first + packable.back().second == page) {
      packable.back().second++;
    } else {
      packable.emplace_back(page, 1);
    }
  }
  return packable;
}

Result<PushResult> PushSnapshot(const SnapshotParts& parts, const PushOptions& options,
                                keys::KeyService& keys, store::ObjectStore& store) {
  const manifest::Manifest& image = *parts.image_manifest;
  const SnapshotLayout& l = parts.layout;
  uint32_t cs = image.chunk_size;
  std::vector<uint64_t> packed = PagesOf(parts.packed_pages);
  SnapshotLayout expected = LayOutSnapshot(l.memory_bytes, l.packed_bytes, l.state_bytes, image);
  if (l.packed_offset != expected.packed_offset || l.state_offset != expected.state_offset ||
      l.disk_offset != expected.disk_offset || l.disk_bytes != expected.disk_bytes ||
      packed.size() * kMemoryPageSize != l.packed_bytes ||
      (!packed.empty() && packed.back() >= l.memory_bytes / kMemoryPageSize)) {
    return Status::InvalidArgument("the snapshot's layout does not fit its image");
  }
  Result<PushTarget> target = PrepareTarget(options, parts.image.root, keys, store);
  if (!target.ok()) {
    return Status::WithCode(target.status().code(),
                            "a snapshot is stored beside its image, in root " + parts.image.root +
                                ": " + target.status().message());
  }
  manifest::Manifest m;
  m.fs_size = l.total_bytes();
  m.chunk_size = cs;
  m.salt_id = target->salt_id.ToString();
  m.root_id = target->root.id;
  m.image_config = parts.config;
  m.chunks.resize(m.ChunkCount());
  for (auto& e : m.chunks) e.flags = manifest::kHole;
  std::copy(image.chunks.begin(), image.chunks.end(), m.chunks.begin() + l.disk_offset / cs);

  UniqueFd memory(::open(parts.memory_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!memory.valid()) return Status::FromErrno(errno, "open " + parts.memory_file);
  UniqueFd state(::open(parts.state_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!state.valid()) return Status::FromErrno(errno, "open " + parts.state_file);
  // Packed pages read as zeros in place: the page map sends reads of them
  // to the packed part.
  std::vector<bool> moved(l.memory_bytes / kMemoryPageSize);
  for (uint64_t page : packed) moved[page] = true;
  ChunkSource in_memory = FileChunks(memory.get(), l.memory_bytes, parts.memory_file);
  uint64_t pages_per_chunk = cs / kMemoryPageSize;
  ChunkSource memory_in_place = [&](uint64_t i, std::span<uint8_t> chunk) -> Result<bool> {
    LODE_ASSIGN_OR_RETURN(bool data, in_memory(i, chunk));
    for (uint64_t p = 0; data && p < pages_per_chunk; ++p) {
      uint64_t page = i * pages_per_chunk + p;
      if (page < moved.size() && moved[page]) {
        std::fill_n(chunk.begin() + p * kMemoryPageSize, kMemoryPageSize, 0);
      }
    }
    return data;
  };
  ChunkSource packed_pages = [&](uint64_t i, std::span<uint8_t> chunk) -> Result<bool> {
    for (uint64_t p = 0; p < pages_per_chunk && i * pages_per_chunk + p < packed.size(); ++p) {
      LODE_RETURN_IF_ERROR(
          PReadAll(memory.get(), chunk.subspan(p * kMemoryPageSize, kMemoryPageSize),
                   packed[i * pages_per_chunk + p] * kMemoryPageSize, parts.memory_file));
    }
    return true;
  };

  ChunkUploader uploader(store, target->root.id, target->salt, options.compress, target->threads);
  std::mutex mu;
  auto chunks_of = [cs](uint64_t bytes) { return (bytes + cs - 1) / cs; };
  Status submitted =
      SubmitPart(chunks_of(l.memory_bytes), cs, 0, memory_in_place, uploader, mu, m.chunks);
  if (submitted.ok()) {
    submitted = SubmitPart(chunks_of(l.packed_bytes), cs, l.packed_offset / cs, packed_pages,
                           uploader, mu, m.chunks);
  }
  if (submitted.ok()) {
    submitted = SubmitPart(chunks_of(l.state_bytes), cs, l.state_offset / cs,
                           FileChunks(state.get(), l.state_bytes, parts.state_file), uploader, mu,
                           m.chunks);
  }
  Status uploaded = uploader.Finish();
  LODE_RETURN_IF_ERROR(submitted);
  LODE_RETURN_IF_ERROR(uploaded);

  return PublishManifest(m, *target, uploader.stats(), store);
}

}  // namespace lode::push
