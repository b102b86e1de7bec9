// Startup profiles: which chunks of an image a start reads, in first-read
// order, so the next start anywhere in the fleet can prefetch them. A
// profile holds chunk indices only, never data; it is still tenant data (an
// access pattern), so it is sealed to the tenant like the manifest and
// stored beside it as <root>/profiles/<manifest id>
// (docs/formats/store-layout.md). Profiles of several starts are merged:
// the union of their chunks, each at its earliest position, at most
// kMaxProfileChunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "keys/key_service.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::catalog {

constexpr size_t kMaxProfileChunks = 16384;  // 8 GiB of 512 KiB chunks

struct StartupProfile {
  std::vector<uint32_t> chunks;  // chunk indices, first read first
};

// The plaintext format: magic "LODEPRF1", u32 count, count x u32 index
// (little endian). Decode refuses duplicates and indices >= `chunk_count`.
std::vector<uint8_t> EncodeProfile(const StartupProfile& p);
Result<StartupProfile> DecodeProfile(std::span<const uint8_t> bytes, uint64_t chunk_count);

// Union of both, each chunk at its earliest position in either (ties: the
// older profile's first), cut to kMaxProfileChunks.
StartupProfile MergeProfiles(const StartupProfile& older, const StartupProfile& newer);

// The image's profile; nullopt when it has none. A profile that fails to
// open (another tenant's, tampered) is Corruption.
Result<std::optional<StartupProfile>> GetProfile(store::ObjectStore& store,
                                                 const store::ImageRef& ref, uint64_t chunk_count,
                                                 keys::KeyService& keys, const std::string& tenant);
// GetProfile in two steps, for a caller that fetches the profile while it
// opens the manifest: the sealed bytes (nullopt: none), then opened.
Result<std::optional<std::vector<uint8_t>>> FetchProfile(store::ObjectStore& store,
                                                         const store::ImageRef& ref);
Result<std::optional<StartupProfile>> OpenProfile(
    const Result<std::optional<std::vector<uint8_t>>>& fetched, const store::ImageRef& ref,
    uint64_t chunk_count, keys::KeyService& keys, const std::string& tenant);
// Seals `p` to the tenant and stores it as the image's profile (replacing
// an older one: merge first).
Status PutProfile(store::ObjectStore& store, const store::ImageRef& ref, const StartupProfile& p,
                  keys::KeyService& keys, const std::string& tenant);

}  // namespace lode::catalog
