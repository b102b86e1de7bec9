// Convergent encryption of image chunks (docs/design.md, "Chunks and convergent
// encryption"). For a chunk P, optionally zstd-compressed first into P':
//   key  = HMAC-SHA256(salt, P')
//   C    = AES-256-GCM(key, iv = 0, P') || 16-byte tag
//   name = SHA-256(C)
// Identical chunks under the same salt give identical objects (dedup across
// images and tenants); holders of a name can check the bytes but not read
// them; only a holder of the key (from a manifest) can. A key encrypts only
// one plaintext, so the fixed IV is safe. Functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::chunk {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNameBytes = 32;
constexpr size_t kSaltBytes = 32;

using ChunkKey = std::array<uint8_t, kKeyBytes>;
using ChunkName = std::array<uint8_t, kNameBytes>;
using Salt = std::array<uint8_t, kSaltBytes>;

std::string NameHex(const ChunkName& name);

struct SealedChunk {
  ChunkName name;
  ChunkKey key;
  bool compressed = false;      // zstd was applied (and made it smaller)
  std::vector<uint8_t> stored;  // ciphertext || tag: the object's bytes
};

struct SealOptions {
  bool compress = true;  // zstd at a fixed level; kept only when it shrinks the chunk
};

// Seals one chunk of plaintext.
SealedChunk Seal(std::span<const uint8_t> plaintext, const Salt& salt, const SealOptions& options);

// Checks `stored` against its name (SHA-256), decrypts and authenticates it
// with `key`, and decompresses it. The result must be `plain_size` bytes.
// Any mismatch is Corruption; nothing unverified is returned.
Result<std::vector<uint8_t>> Open(std::span<const uint8_t> stored, const ChunkName& name,
                                  const ChunkKey& key, bool compressed, size_t plain_size);
// Open for bytes whose name the caller has already checked (the agent's
// fetcher verifies every chunk against its name as it arrives from any
// tier): decrypts, authenticates and decompresses without hashing again.
Result<std::vector<uint8_t>> OpenVerified(std::span<const uint8_t> stored, const ChunkKey& key,
                                          bool compressed, size_t plain_size);

// Seals a stored chunk (checked as Open does) under another salt without
// decompressing it: the result equals Seal of its plaintext under `salt`
// with the options it was sealed with, so copies deduplicate with pushes.
Result<SealedChunk> Reseal(std::span<const uint8_t> stored, const ChunkName& name,
                           const ChunkKey& key, bool compressed, const Salt& salt);

// True when every byte is zero: such chunks are holes and never stored.
bool IsZero(std::span<const uint8_t> bytes);

}  // namespace lode::chunk
