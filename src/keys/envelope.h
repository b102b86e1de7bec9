// The envelope of every object sealed to a tenant (manifests, startup
// profiles, functions): a fresh data key, sealed to the tenant's X25519
// public key (libsodium sealed box), encrypts the body (AES-256-GCM, with
// the header as AAD; the manifest component does that part). Opening the
// box is the only step that needs the tenant's secret key, so it is all a
// key service does for a reader: it hands out one object's data key, after
// checking the object is the one the reader may open.
//
// What an object claims to be is checked two ways: a manifest is named by
// the SHA-256 of its sealed bytes, so its subject "ROOT/MANIFEST-ID" is
// checked by hashing; profiles and functions carry their subject inside the
// sealed box (version 2), so a reader cannot pass one object off as another.
// Format: docs/formats/manifest.md ("Sealed object").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::keys {

using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 32>;
using DataKey = std::array<uint8_t, 32>;
using EnvelopeIv = std::array<uint8_t, 12>;

struct KeyPair {
  PublicKey public_key;
  SecretKey secret_key;
};

enum class SealedKind { kManifest, kProfile, kFunction };

// "manifest", "profile", "function"; and back (InvalidArgument).
const char* SealedKindName(SealedKind kind);
Result<SealedKind> ParseSealedKind(const std::string& name);

// A sealed object and what it claims to be.
struct SealedObject {
  SealedKind kind = SealedKind::kManifest;
  std::string tenant;
  // Manifests and profiles: the image, "ROOT/MANIFEST-ID"; functions: the
  // function's name.
  std::string subject;
  std::span<const uint8_t> sealed;
};

// An envelope's parts (views into the sealed bytes).
struct Envelope {
  uint32_t version = 0;
  std::span<const uint8_t> header;  // magic to IV: the body's AAD
  std::span<const uint8_t> box;     // the sealed data key (and subject)
  EnvelopeIv iv{};
  std::span<const uint8_t> body;  // ciphertext and GCM tag
};

// Corruption unless `sealed` is an envelope of `kind`; `what` names it in
// the error.
Result<Envelope> ParseEnvelope(SealedKind kind, std::span<const uint8_t> sealed,
                               const std::string& what);

// The header of a new envelope of `kind` for `subject`, `data_key` sealed to
// `tenant`.
std::vector<uint8_t> SealEnvelopeHeader(SealedKind kind, const std::string& subject,
                                        const DataKey& data_key, const EnvelopeIv& iv,
                                        const PublicKey& tenant);

// The object's data key, opened with its tenant's key pair once the object
// has proven to be `object.subject`. Corruption otherwise (another tenant's,
// another object's, tampered).
Result<DataKey> UnsealDataKey(const SealedObject& object, const KeyPair& tenant_keys);

}  // namespace lode::keys
