#include "chunk/convergent.h"

#include <openssl/evp.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "chunk/aead.h"
#include "util/sha256.h"

namespace lode::chunk {
namespace {

// FROZEN: changing the level changes every compressed chunk's bytes.
constexpr int kZstdLevel = 3;

constexpr AeadIv kZeroIv = {};

ChunkKey DeriveKey(std::span<const uint8_t> data, const Salt& salt) {
  return HmacSha256(salt, data);
}

// Encrypts the bytes to store (compressed already, or not).
SealedChunk SealPacked(std::span<const uint8_t> data, bool compressed, const Salt& salt) {
  SealedChunk out;
  out.compressed = compressed;
  out.key = DeriveKey(data, salt);
  out.stored = AeadSeal(out.key, kZeroIv, {}, data);
  out.name = Sha256::Of(out.stored);
  return out;
}

// Checks the name, then authenticates and decrypts: the packed bytes.
Result<std::vector<uint8_t>> Authenticate(std::span<const uint8_t> stored, const ChunkKey& key) {
  Result<std::vector<uint8_t>> opened = AeadOpen(key, kZeroIv, {}, stored);
  if (!opened.ok())
    return Status::Corruption("chunk fails authentication (wrong key or tampered bytes)");
  return opened;
}

Status CheckName(std::span<const uint8_t> stored, const ChunkName& name) {
  if (Sha256::Of(stored) != name) return Status::Corruption("chunk bytes do not match its name");
  return Status::Ok();
}

Result<std::vector<uint8_t>> Decrypt(std::span<const uint8_t> stored, const ChunkName& name,
                                     const ChunkKey& key) {
  LODE_RETURN_IF_ERROR(CheckName(stored, name));
  return Authenticate(stored, key);
}

}  // namespace

std::string NameHex(const ChunkName& name) { return ToHex(name); }

bool IsZero(std::span<const uint8_t> bytes) {
  size_t i = 0;
  uint64_t acc = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    acc |= w;
  }
  for (; i < bytes.size(); ++i) acc |= bytes[i];
  return acc == 0;
}

SealedChunk Seal(std::span<const uint8_t> plaintext, const Salt& salt, const SealOptions& options) {
  if (options.compress) {
    std::vector<uint8_t> packed(ZSTD_compressBound(plaintext.size()));
    size_t n =
        ZSTD_compress(packed.data(), packed.size(), plaintext.data(), plaintext.size(), kZstdLevel);
    if (!ZSTD_isError(n) && n < plaintext.size()) {
      packed.resize(n);
      return SealPacked(packed, true, salt);
    }
  }
  return SealPacked(plaintext, false, salt);
}

Result<SealedChunk> Reseal(std::span<const uint8_t> stored, const ChunkName& name,
                           const ChunkKey& key, bool compressed, const Salt& salt) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> data, Decrypt(stored, name, key));
  return SealPacked(data, compressed, salt);
}

Result<std::vector<uint8_t>> Open(std::span<const uint8_t> stored, const ChunkName& name,
                                  const ChunkKey& key, bool compressed, size_t plain_size) {
  LODE_RETURN_IF_ERROR(CheckName(stored, name));
  return OpenVerified(stored, key, compressed, plain_size);
}

Result<std::vector<uint8_t>> OpenVerified(std::span<const uint8_t> stored, const ChunkKey& key,
                                          bool compressed, size_t plain_size) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> data, Authenticate(stored, key));
  if (!compressed) {
    if (data.size() != plain_size) return Status::Corruption("chunk has the wrong size");
    return data;
  }
  std::vector<uint8_t> plain(plain_size);
  size_t n = ZSTD_decompress(plain.data(), plain.size(), data.data(), data.size());
  if (ZSTD_isError(n) || n != plain_size)
    return Status::Corruption("chunk does not decompress to its size");
  return plain;
}

}  // namespace lode::chunk
