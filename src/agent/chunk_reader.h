// Plaintext chunks for attachments: the memory tier of decrypted chunks in
// front of the tiered fetcher. A fetched chunk is opened (name checked by the
// fetcher, then the GCM tag, then decompressed) before anything is cached in
// memory. The memory tier is keyed by name and chunk key together, so a
// manifest naming a chunk without its key can never read it from memory.
// Thread-safe.
#pragma once

#include <string>

#include "cache/chunk_fetcher.h"
#include "cache/memory_cache.h"
#include "manifest/manifest.h"
#include "util/status.h"

namespace lode::agent {

enum class ChunkSource { kMemory, kL1, kL2, kOrigin, kShared };

struct PlainChunk {
  cache::SharedBytes bytes;
  ChunkSource source = ChunkSource::kMemory;
  uint64_t fetched_bytes = 0;  // stored bytes this read brought from a remote tier
};

class ChunkReader {
 public:
  ChunkReader(cache::ChunkFetcher& fetcher, cache::MemoryCache& memory)
      : fetcher_(fetcher), memory_(memory) {}

  // Chunk `index` of an image rooted at `root`, of `plain_size` bytes.
  Result<PlainChunk> Read(const std::string& root, const manifest::ChunkEntry& entry,
                          uint64_t index, size_t plain_size);

 private:
  cache::ChunkFetcher& fetcher_;
  cache::MemoryCache& memory_;
};

}  // namespace lode::agent
