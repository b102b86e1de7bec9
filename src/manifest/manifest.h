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
#include "keys/envelope.h"
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

// The plaintext encoding (also what a sealed manifest carries inside).
std::vector<uint8_t> Encode(const Manifest& m);
Result<Manifest> Decode(std::span<const uint8_t> bytes);

// Encrypts with a fresh data key (AES-256-GCM) in an envelope whose header
// seals that key to the tenant's public key (keys/envelope.h). Needs no
// secret.
std::vector<uint8_t> Seal(const Manifest& m, const keys::PublicKey& tenant);
// Opens a sealed manifest with its data key (from the key service). A wrong
// key, or tampered bytes, give Corruption.
Result<Manifest> Open(std::span<const uint8_t> sealed, const keys::DataKey& data_key);

// The sealing both use, for any object only the tenant may read (startup
// profiles and functions too): `kind` is in the header, so one kind can
// never be opened as another, and `subject` in the sealed box (of kinds
// that carry one). Open errors name `what`.
std::vector<uint8_t> SealToTenant(keys::SealedKind kind, const std::string& subject,
                                  std::span<const uint8_t> plaintext,
                                  const keys::PublicKey& tenant);
Result<std::vector<uint8_t>> OpenSealedBody(keys::SealedKind kind, std::span<const uint8_t> sealed,
                                            const keys::DataKey& data_key, const std::string& what);

// The manifest's id: hex SHA-256 of its sealed bytes.
std::string ManifestId(std::span<const uint8_t> sealed);

}  // namespace lode::manifest
