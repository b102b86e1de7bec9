#include "push/export.h"

#include <unistd.h>

#include <set>

#include "catalog/catalog.h"
#include "chunk/convergent.h"
#include "manifest/page_map.h"
#include "util/file.h"

namespace lode::push {
namespace {

// Moves the pages the manifest's page map stores elsewhere to their own
// offsets in the exported file `fd`, so it reads as the agent's block file
// does. Their sources are never moved pages themselves (PageMap checks).
Status PlacePages(const manifest::Manifest& m, int fd, const std::string& path) {
  LODE_ASSIGN_OR_RETURN(manifest::PageMap map,
                        manifest::PageMap::FromConfig(m.image_config, m.fs_size));
  Status status;
  std::vector<uint8_t> buffer;
  map.ForEachRun([&](uint64_t page, uint64_t source, uint64_t count) {
    if (!status.ok()) return;
    buffer.resize(count * manifest::PageMap::kPageSize);
    status = PReadAll(fd, buffer, source * manifest::PageMap::kPageSize, path);
    if (status.ok()) status = PWriteAll(fd, buffer, page * manifest::PageMap::kPageSize, path);
  });
  return status;
}

}  // namespace

Result<ExportResult> Export(store::ObjectStore& store, const manifest::Manifest& m,
                            const std::string& path) {
  LODE_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
  ExportResult result;
  for (uint64_t i = 0; i < m.chunks.size(); ++i) {
    const manifest::ChunkEntry& e = m.chunks[i];
    if (e.hole()) {
      ++result.holes;
      continue;
    }
    uint64_t offset = i * m.chunk_size;
    size_t plain = static_cast<size_t>(std::min<uint64_t>(m.chunk_size, m.fs_size - offset));
    std::string name = chunk::NameHex(e.name);
    Result<std::vector<uint8_t>> stored = store.Get(store::ChunkKey(m.root_id, name));
    if (!stored.ok())
      return stored.status().WithContext("chunk " + std::to_string(i) + " (" + name + ")");
    Result<std::vector<uint8_t>> bytes =
        chunk::Open(*stored, e.name, e.key, e.flags & manifest::kCompressed, plain);
    if (!bytes.ok())
      return bytes.status().WithContext("chunk " + std::to_string(i) + " (" + name + ")");
    LODE_RETURN_IF_ERROR(PWriteAll(out.fd(), *bytes, offset, path));
    ++result.chunks_read;
  }
  if (::ftruncate(out.fd(), static_cast<off_t>(m.fs_size)) != 0)
    return Status::FromErrno(errno, "truncate " + path);
  LODE_RETURN_IF_ERROR(PlacePages(m, out.fd(), path));
  LODE_RETURN_IF_ERROR(out.Commit());
  result.image_bytes = m.fs_size;
  return result;
}

Result<ManifestSummary> Summarize(store::ObjectStore& store, const manifest::Manifest& m,
                                  const store::ImageRef& ref, keys::KeyService& keys,
                                  const std::string& tenant) {
  ManifestSummary s;
  for (const manifest::ChunkEntry& e : m.chunks) {
    s.holes += e.hole() ? 1 : 0;
    s.compressed += (e.flags & manifest::kCompressed) ? 1 : 0;
    s.stored_bytes += e.stored_length;
  }
  std::set<chunk::ChunkName> elsewhere;
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> manifests, store.List(ref.root + "/manifests/"));
  for (const std::string& key : manifests) {
    std::string id = key.substr(key.find_last_of('/') + 1);
    if (id == ref.manifest_id) continue;
    Result<manifest::Manifest> other = catalog::OpenManifest(store, {ref.root, id}, keys, tenant);
    if (!other.ok()) continue;  // another tenant's, or damaged: not ours to count
    ++s.other_manifests_opened;
    for (const manifest::ChunkEntry& e : other->chunks) {
      if (!e.hole()) elsewhere.insert(e.name);
    }
  }
  for (const manifest::ChunkEntry& e : m.chunks) s.shared += !e.hole() && elsewhere.count(e.name);
  return s;
}

}  // namespace lode::push
