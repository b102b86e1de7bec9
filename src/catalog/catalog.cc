#include "catalog/catalog.h"

namespace lode::catalog {
namespace {

// Tags and migration journal entries: one reference as a line of text.
Status PutRef(store::ObjectStore& store, const std::string& key, const store::ImageRef& ref) {
  std::string value = ref.ToString() + "\n";
  return store.Put(key, std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
}

// The reference stored under `key`; empty when there is none.
Result<std::optional<store::ImageRef>> GetRef(store::ObjectStore& store, const std::string& key) {
  Result<std::vector<uint8_t>> bytes = store.Get(key);
  if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
    return std::optional<store::ImageRef>();
  }
  LODE_RETURN_IF_ERROR(bytes.status());
  std::string value(bytes->begin(), bytes->end());
  while (!value.empty() && value.back() == '\n') value.pop_back();
  LODE_ASSIGN_OR_RETURN(store::ImageRef ref, store::ParseImageRef(value));
  return std::optional<store::ImageRef>(ref);
}

}  // namespace

Result<manifest::Manifest> OpenManifest(store::ObjectStore& store, const store::ImageRef& ref,
                                        keys::KeyService& keys, const std::string& tenant) {
  Result<std::vector<uint8_t>> sealed = store.Get(store::ManifestKey(ref.root, ref.manifest_id));
  if (!sealed.ok()) return sealed.status().WithContext("manifest " + ref.ToString());
  if (manifest::ManifestId(*sealed) != ref.manifest_id) {
    return Status::Corruption("manifest " + ref.ToString() + " does not match its id");
  }
  LODE_ASSIGN_OR_RETURN(keys::DataKey key, keys.OpenDataKey({keys::SealedKind::kManifest, tenant,
                                                             ref.ToString(), *sealed}));
  Result<manifest::Manifest> m = manifest::Open(*sealed, key);
  if (!m.ok()) return m.status().WithContext("manifest " + ref.ToString());
  return m;
}

Status SetTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag,
              const store::ImageRef& ref) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  std::string key = store::TagKey(tenant, tag);
  if (tag.find('/') != std::string::npos || !store::ValidateKey(key).ok()) {
    return Status::InvalidArgument("bad tag name '" + tag + "'");
  }
  return PutRef(store, key, ref);
}

Status DeleteTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag) {
  LODE_RETURN_IF_ERROR(ResolveRef(store, tenant, tag).status());
  return store.Delete(store::TagKey(tenant, tag));
}

Result<bool> MoveTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag,
                     const store::ImageRef& from, const store::ImageRef& to) {
  Result<store::ImageRef> now = ResolveRef(store, tenant, tag);
  if (!now.ok() && now.status().code() == StatusCode::kNotFound) return false;
  LODE_RETURN_IF_ERROR(now.status());
  if (now->ToString() != from.ToString()) return false;
  LODE_RETURN_IF_ERROR(SetTag(store, tenant, tag, to));
  return true;
}

Result<std::vector<TaggedImage>> ListAllTags(store::ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(store::kTagsPrefix));
  std::vector<TaggedImage> out;
  for (const std::string& key : keys) {
    std::string rest = key.substr(std::string(store::kTagsPrefix).size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    TaggedImage t{rest.substr(0, slash), rest.substr(slash + 1), {}};
    Result<store::ImageRef> ref = ResolveRef(store, t.tenant, t.tag);
    if (!ref.ok() && ref.status().code() == StatusCode::kNotFound) continue;  // untagged meanwhile
    LODE_RETURN_IF_ERROR(ref.status());
    t.ref = *ref;
    out.push_back(std::move(t));
  }
  return out;
}

Status RecordMigration(store::ObjectStore& store, const store::ImageRef& from,
                       const store::ImageRef& to) {
  return PutRef(store, store::MigrationKey(from.root, from.manifest_id), to);
}

Result<std::optional<store::ImageRef>> FindMigration(store::ObjectStore& store,
                                                     const store::ImageRef& from) {
  return GetRef(store, store::MigrationKey(from.root, from.manifest_id));
}

Result<bool> PutChunkIfAbsent(store::ObjectStore& store, const std::string& root,
                              const chunk::SealedChunk& sealed) {
  std::string key = store::ChunkKey(root, chunk::NameHex(sealed.name));
  // Listed, not HEADed: a pusher's credentials need not read.
  LODE_ASSIGN_OR_RETURN(bool exists, store.ExistsByListing(key));
  if (exists) return false;
  LODE_RETURN_IF_ERROR(store.Put(key, sealed.stored));
  return true;
}

Result<std::vector<std::pair<std::string, store::ImageRef>>> ListTags(store::ObjectStore& store,
                                                                      const std::string& tenant) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  std::string prefix = store::TagPrefix(tenant);
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(prefix));
  std::vector<std::pair<std::string, store::ImageRef>> out;
  for (const std::string& key : keys) {
    std::string tag = key.substr(prefix.size());
    LODE_ASSIGN_OR_RETURN(store::ImageRef ref, ResolveRef(store, tenant, tag));
    out.emplace_back(tag, ref);
  }
  return out;
}

Result<store::ImageRef> ResolveRef(store::ObjectStore& store, const std::string& tenant,
                                   const std::string& text) {
  if (text.find('/') != std::string::npos) return store::ParseImageRef(text);
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  LODE_ASSIGN_OR_RETURN(std::optional<store::ImageRef> ref,
                        GetRef(store, store::TagKey(tenant, text)));
  if (!ref) return Status::NotFound("no image tagged '" + text + "' for tenant " + tenant);
  return *ref;
}

}  // namespace lode::catalog
