// AES-256-GCM with a 12-byte IV and a 16-byte tag appended to the ciphertext
// (OpenSSL). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "util/status.h"

namespace lode::chunk {

using AeadKey = std::array<uint8_t, 32>;
using AeadIv = std::array<uint8_t, 12>;
constexpr size_t kAeadTagBytes = 16;

// Returns ciphertext || tag; `aad` is authenticated, not encrypted.
std::vector<uint8_t> AeadSeal(const AeadKey& key, const AeadIv& iv, std::span<const uint8_t> aad,
                              std::span<const uint8_t> plaintext);
// Corruption when the tag does not verify (wrong key, IV, AAD or bytes).
Result<std::vector<uint8_t>> AeadOpen(const AeadKey& key, const AeadIv& iv,
                                      std::span<const uint8_t> aad,
                                      std::span<const uint8_t> sealed);

}  // namespace lode::chunk
