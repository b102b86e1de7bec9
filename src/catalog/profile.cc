#include "catalog/profile.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "manifest/manifest.h"

namespace lode::catalog {
namespace {

// FROZEN: stored profiles carry these.
constexpr char kProfileMagic[8] = {'L', 'O', 'D', 'E', 'P', 'R', 'F', '1'};

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

std::vector<uint8_t> EncodeProfile(const StartupProfile& p) {
  std::vector<uint8_t> out(kProfileMagic, kProfileMagic + 8);
  PutU32(out, static_cast<uint32_t>(p.chunks.size()));
  for (uint32_t c : p.chunks) PutU32(out, c);
  return out;
}

Result<StartupProfile> DecodeProfile(std::span<const uint8_t> bytes, uint64_t chunk_count) {
  auto bad = [](const std::string& why) { return Status::Corruption("startup profile: " + why); };
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kProfileMagic, 8) != 0) {
    return bad("bad magic");
  }
  uint32_t count = GetU32(bytes.data() + 8);
  if (count > kMaxProfileChunks || bytes.size() != 12 + 4 * static_cast<uint64_t>(count)) {
    return bad("bad length");
  }
  StartupProfile p;
  std::unordered_set<uint32_t> seen;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t c = GetU32(bytes.data() + 12 + 4 * i);
    if (c >= chunk_count) return bad("chunk " + std::to_string(c) + " is beyond the image");
    if (!seen.insert(c).second) return bad("chunk " + std::to_string(c) + " listed twice");
    p.chunks.push_back(c);
  }
  return p;
}

StartupProfile MergeProfiles(const StartupProfile& older, const StartupProfile& newer) {
  std::unordered_map<uint32_t, size_t> position;
  std::vector<uint32_t> order;  // first appearance: older, then newer
  for (const StartupProfile* p : {&older, &newer}) {
    for (size_t i = 0; i < p->chunks.size(); ++i) {
      auto [it, fresh] = position.emplace(p->chunks[i], i);
      if (fresh) {
        order.push_back(p->chunks[i]);
      } else {
        it->second = std::min(it->second, i);
      }
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return position[a] < position[b]; });
  if (order.size() > kMaxProfileChunks) order.resize(kMaxProfileChunks);
  return {std::move(order)};
}

Result<std::optional<std::vector<uint8_t>>> FetchProfile(store::ObjectStore& store,
                                                         const store::ImageRef& ref) {
  Result<std::vector<uint8_t>> sealed = store.Get(store::ProfileKey(ref.root, ref.manifest_id));
  if (sealed.status().code() == StatusCode::kNotFound) {
    return std::optional<std::vector<uint8_t>>();
  }
  LODE_RETURN_IF_ERROR(sealed.status());
  return std::optional(std::move(*sealed));
}

Result<std::optional<StartupProfile>> OpenProfile(
    const Result<std::optional<std::vector<uint8_t>>>& fetched, const store::ImageRef& ref,
    uint64_t chunk_count, keys::KeyService& keys, const std::string& tenant) {
  LODE_RETURN_IF_ERROR(fetched.status());
  if (!*fetched) return std::optional<StartupProfile>();
  Result<keys::DataKey> key =
      keys.OpenDataKey({keys::SealedKind::kProfile, tenant, ref.ToString(), **fetched});
  if (!key.ok()) return key.status().WithContext("startup profile of " + ref.ToString());
  Result<std::vector<uint8_t>> plain =
      manifest::OpenSealedBody(keys::SealedKind::kProfile, **fetched, *key, "startup profile");
  if (!plain.ok()) return plain.status().WithContext("image " + ref.ToString());
  Result<StartupProfile> p = DecodeProfile(*plain, chunk_count);
  if (!p.ok()) return p.status().WithContext("image " + ref.ToString());
  return std::optional(*p);
}

Result<std::optional<StartupProfile>> GetProfile(store::ObjectStore& store,
                                                 const store::ImageRef& ref, uint64_t chunk_count,
                                                 keys::KeyService& keys,
                                                 const std::string& tenant) {
  return OpenProfile(FetchProfile(store, ref), ref, chunk_count, keys, tenant);
}

Status PutProfile(store::ObjectStore& store, const store::ImageRef& ref, const StartupProfile& p,
                  keys::KeyService& keys, const std::string& tenant) {
  LODE_ASSIGN_OR_RETURN(keys::PublicKey pub, keys.TenantPublicKey(tenant));
  std::vector<uint8_t> sealed =
      manifest::SealToTenant(keys::SealedKind::kProfile, ref.ToString(), EncodeProfile(p), pub);
  return store.Put(store::ProfileKey(ref.root, ref.manifest_id), sealed);
}

}  // namespace lode::catalog
