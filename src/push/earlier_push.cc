// Records of earlier pushes of registry images (push.h, FindEarlierPush).
#include <nlohmann/json.hpp>

#include "push/push.h"
#include "util/json_int.h"
#include "util/sha256.h"

namespace lode::push {
namespace {

using nlohmann::json;

struct RecordPlace {
  std::string root;
  keys::Salt salt;
  std::string key;  // the record's object key
};

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Everything the pushed image's bytes depend on besides the layers.
Result<RecordPlace> PlaceOf(const image::Digest& source, const PushOptions& o,
                            keys::KeyService& keys, store::ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(keys::PublicKey tenant_key, keys.TenantPublicKey(o.tenant));
  LODE_ASSIGN_OR_RETURN(store::RootRecord root, store::PushRoot(store, o.root));
  LODE_ASSIGN_OR_RETURN(uint32_t epoch, keys.CurrentSaltEpoch(root.id, o.salt_domain));
  keys::SaltId salt_id{root.id, o.salt_domain, epoch};
  RecordPlace place{root.id, {}, ""};
  LODE_ASSIGN_OR_RETURN(place.salt, keys.GetOrCreateSalt(salt_id));
  json shape = {{"v", 1},
                {"tenant_key", ToHex(tenant_key)},
                {"source", source.ToString()},
                {"salt", salt_id.ToString()},
                {"chunk_size", o.chunk_size},
                {"compress", o.compress},
                {"headroom", o.flatten.headroom_bytes},
                {"extra_inodes", o.flatten.extra_inodes}};
  place.key = store::SourceKey(root.id, ToHex(HmacSha256(place.salt, Bytes(shape.dump()))));
  return place;
}

std::string Mac(const RecordPlace& place, const json& body) {
  return ToHex(HmacSha256(place.salt, Bytes(place.key + "\n" + body.dump())));
}

}  // namespace

Result<std::optional<PushResult>> FindEarlierPush(const image::Digest& source,
                                                  const PushOptions& options,
                                                  keys::KeyService& keys,
                                                  store::ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(RecordPlace place, PlaceOf(source, options, keys, store));
  Result<std::vector<uint8_t>> bytes = store.Get(place.key);
  if (bytes.status().code() == StatusCode::kNotFound) return std::optional<PushResult>();
  LODE_RETURN_IF_ERROR(bytes.status());
  json record = json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (!record.is_object() || !record.contains("mac") || !record["mac"].is_string()) {
    return Status::Corruption(place.key + ": not a push record");
  }
  std::string mac = record["mac"];
  record.erase("mac");
  if (mac != Mac(place, record)) return Status::Corruption(place.key + ": bad record MAC");
  try {
    PushResult r;
    LODE_ASSIGN_OR_RETURN(r.ref, store::ParseImageRef(record.at("ref").get<std::string>()));
    r.image_bytes = IntegerOf<uint64_t>(record.at("image_bytes"));
    r.chunks_total = IntegerOf<uint64_t>(record.at("chunks_total"));
    r.chunks_holes = IntegerOf<uint64_t>(record.at("chunks_holes"));
    r.chunks_existing = r.chunks_total - r.chunks_holes;
    r.reused = true;
    // A manifest gone with its root (gc) is pushed again.
    LODE_ASSIGN_OR_RETURN(bool present,
                          store.ExistsByListing(store::ManifestKey(r.ref.root, r.ref.manifest_id)));
    if (!present || r.ref.root != place.root) return std::optional<PushResult>();
    return std::optional(r);
  } catch (const json::exception&) {
    return Status::Corruption(place.key + ": not a push record");
  }
}

Status RecordPush(const image::Digest& source, const PushOptions& options, const PushResult& result,
                  keys::KeyService& keys, store::ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(RecordPlace place, PlaceOf(source, options, keys, store));
  json record = {{"ref", result.ref.ToString()},
                 {"image_bytes", result.image_bytes},
                 {"chunks_total", result.chunks_total},
                 {"chunks_holes", result.chunks_holes}};
  record["mac"] = Mac(place, record);
  std::string text = record.dump() + "\n";
  return store.Put(place.key, Bytes(text));
}

}  // namespace lode::push
