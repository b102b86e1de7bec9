#include "agent/chunk_reader.h"

#include "chunk/convergent.h"

namespace lode::agent {

Result<PlainChunk> ChunkReader::Read(const std::string& root, const manifest::ChunkEntry& entry,
                                     uint64_t index, size_t plain_size) {
  // Raw bytes (no hex) keep the hit path, run for every block read, cheap.
  std::string memory_key(reinterpret_cast<const char*>(entry.name.data()), entry.name.size());
  memory_key.append(reinterpret_cast<const char*>(entry.key.data()), entry.key.size());
  if (cache::SharedBytes cached = memory_.Get(memory_key)) {
    return PlainChunk{std::move(cached), ChunkSource::kMemory};
  }
  std::string name = chunk::NameHex(entry.name);
  LODE_ASSIGN_OR_RETURN(cache::Fetched fetched, fetcher_.Fetch(root, name));
  // The fetcher checked the bytes against the name on arrival; the GCM tag
  // is checked here (docs/design.md, "Trust model").
  Result<std::vector<uint8_t>> plain = chunk::OpenVerified(
      *fetched.bytes, entry.key, entry.flags & manifest::kCompressed, plain_size);
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
