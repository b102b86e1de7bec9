// The per-image manifest: the chunk table of one flattened image and the
// image's run config, sealed so that only its tenant can read it. Format:
// docs/formats/manifest.md (mirrored by the constants in manifest.cc).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chunk/convergent.h"
#include "util/status.h"

namespace lode::manifest {

enum ChunkFlags : uint32_t {
  kHole = 1,        // all zeros: no object, name and key are zero
  kCompressed = 2,  // zstd before encryption
};

struct ChunkEntry {
  chunk::ChunkName name{};
  chunk::ChunkKey key{};
  uint32_t stored_length = 0;  // bytes of the object
  uint32_t flags = 0;
  bool hole() const { return flags & kHole; }
  static ChunkEntry Of(const chunk::SealedChunk& sealed);
};

struct Manifest {
  uint64_t fs_size = 0;
  uint32_t chunk_size = 0;
  std::array<uint8_t, 32> config_digest{};  // SHA-256 of the image config; zero if none
  std::string salt_id;
  std::string root_id;
  std::string image_config;        // JSON: entrypoint, cmd, env, working_dir, user
  std::vector<ChunkEntry> chunks;  // ceil(fs_size / chunk_size) entries

  uint64_t ChunkCount() const { return (fs_size + chunk_size - 1) / chunk_size; }
};

using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 32>;

// The plaintext encoding (also what a sealed manifest carries inside).
std::vector<uint8_t> Encode(const Manifest& m);
Result<Manifest> Decode(std::span<const uint8_t> bytes);

// Encrypts with a fresh data key (AES-256-GCM) and seals that key to the
// tenant's public key (X25519 sealed box). Needs no secret.
std::vector<uint8_t> Seal(const Manifest& m, const PublicKey& tenant);
// Opens a sealed manifest with the tenant's key pair. Another tenant's key,
// or tampered bytes, give Corruption.
Result<Manifest> Open(std::span<const uint8_t> sealed, const PublicKey& pub,
                      const SecretKey& secret);

// The sealing both use, for any object only the tenant may read (startup
// profiles too): `magic` names the kind of object, so one kind can never be
// opened as another. Open errors name `what`.
std::vector<uint8_t> SealToTenant(const char (&magic)[8], std::span<const uint8_t> plaintext,
                                  const PublicKey& tenant);
Result<std::vector<uint8_t>> OpenFromTenant(const char (&magic)[8], std::span<const uint8_t> sealed,
                                            const PublicKey& pub, const SecretKey& secret,
                                            const std::string& what);

// The manifest's id: hex SHA-256 of its sealed bytes.
std::string ManifestId(std::span<const uint8_t> sealed);

}  // namespace lode::manifest
