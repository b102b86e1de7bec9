#include "push/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

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

// Submits `length` bytes of `path` as chunks `first`, ... (the parts
// start on chunk boundaries); all-zero chunks stay holes.
Status SubmitFile(const std::string& path, uint64_t length, uint32_t chunk_size, uint64_t first,
                  ChunkUploader& uploader, std::mutex& mu,
                  std::vector<manifest::ChunkEntry>& table) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + path);
  for (uint64_t offset = 0, index = first; offset < length; offset += chunk_size, ++index) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_size, length - offset));
    if (!HasData(fd.get(), offset, n)) continue;
    // Whole chunks, zero-padded: only the block file's last chunk is short.
    std::vector<uint8_t> chunk(chunk_size);
    LODE_RETURN_IF_ERROR(PReadAll(fd.get(), std::span(chunk).first(n), offset, path));
    if (chunk::IsZero(chunk)) continue;
    LODE_RETURN_IF_ERROR(
        uploader.Submit(std::move(chunk), [&mu, &table, index](const manifest::ChunkEntry& e) {
          std::lock_guard lock(mu);
          table[index] = e;
        }));
  }
  return Status::Ok();
}

}  // namespace

SnapshotLayout LayOutSnapshot(uint64_t memory_bytes, uint64_t state_bytes,
                              const manifest::Manifest& image) {
  SnapshotLayout l;
  l.memory_bytes = memory_bytes;
  l.state_offset = RoundUp(memory_bytes, image.chunk_size);
  l.state_bytes = state_bytes;
  l.disk_offset = RoundUp(l.state_offset + state_bytes, image.chunk_size);
  l.disk_bytes = image.fs_size;
  return l;
}

Result<PushResult> PushSnapshot(const SnapshotParts& parts, const PushOptions& options,
                                keys::KeyService& keys, store::ObjectStore& store) {
  const manifest::Manifest& image = *parts.image_manifest;
  const SnapshotLayout& l = parts.layout;
  uint32_t cs = image.chunk_size;
  SnapshotLayout expected = LayOutSnapshot(l.memory_bytes, l.state_bytes, image);
  if (l.state_offset != expected.state_offset || l.disk_offset != expected.disk_offset ||
      l.disk_bytes != expected.disk_bytes) {
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

  ChunkUploader uploader(store, target->root.id, target->salt, options.compress, target->threads);
  std::mutex mu;
  Status submitted = SubmitFile(parts.memory_file, l.memory_bytes, cs, 0, uploader, mu, m.chunks);
  if (submitted.ok()) {
    submitted = SubmitFile(parts.state_file, l.state_bytes, cs, l.state_offset / cs, uploader, mu,
                           m.chunks);
  }
  Status uploaded = uploader.Finish();
  LODE_RETURN_IF_ERROR(submitted);
  LODE_RETURN_IF_ERROR(uploaded);

  return PublishManifest(m, *target, uploader.stats(), store);
}

}  // namespace lode::push
