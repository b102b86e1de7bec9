#include "agent/chunk_reader.h"

#include "chunk/convergent.h"
#include "util/sha256.h"

namespace lode::agent {

Result<PlainChunk> ChunkReader::Read(const std::string& root, const manifest::ChunkEntry& entry,
                                     uint64_t index, size_t plain_size) {
  std::string name = chunk::NameHex(entry.name);
  std::string memory_key = name + ToHex(entry.key);
  if (cache::SharedBytes cached = memory_.Get(memory_key)) {
    return PlainChunk{std::move(cached), ChunkSource::kMemory};
  }
  LODE_ASSIGN_OR_RETURN(cache::Fetched fetched, fetcher_.Fetch(root, name));
  Result<std::vector<uint8_t>> plain = chunk::Open(*fetched.bytes, entry.name, entry.key,
                                                   entry.flags & manifest::kCompressed, plain_size);
  if (!plain.ok()) return plain.status().WithContext("chunk " + std::to_string(index));
  PlainChunk out{std::make_shared<const std::vector<uint8_t>>(std::move(*plain)),
                 ChunkSource::kOrigin};
  if (fetched.shared) {
    out.source = ChunkSource::kShared;
  } else if (fetched.tier == cache::Tier::kL1) {
    out.source = ChunkSource::kL1;
  } else {
    out.source = fetched.tier == cache::Tier::kL2 ? ChunkSource::kL2 : ChunkSource::kOrigin;
    out.fetched_bytes = fetched.bytes->size();
  }
  memory_.Put(memory_key, out.bytes);
  return out;
}

}  // namespace lode::agent
