#include "catalog/catalog.h"

namespace lode::catalog {

Result<manifest::Manifest> OpenManifest(store::ObjectStore& store, const store::ImageRef& ref,
                                        keys::KeyService& keys, const std::string& tenant) {
  LODE_ASSIGN_OR_RETURN(keys::KeyPair kp, keys.TenantKeyPair(tenant));
  Result<std::vector<uint8_t>> sealed = store.Get(store::ManifestKey(ref.root, ref.manifest_id));
  if (!sealed.ok()) return sealed.status().WithContext("manifest " + ref.ToString());
  if (manifest::ManifestId(*sealed) != ref.manifest_id) {
    return Status::Corruption("manifest " + ref.ToString() + " does not match its id");
  }
  Result<manifest::Manifest> m = manifest::Open(*sealed, kp.public_key, kp.secret_key);
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
  std::string value = ref.ToString() + "\n";
  return store.Put(key, std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
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
  Result<std::vector<uint8_t>> tag = store.Get(store::TagKey(tenant, text));
  if (!tag.ok()) {
    if (tag.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no image tagged '" + text + "' for tenant " + tenant);
    }
    return tag.status();
  }
  std::string value(tag->begin(), tag->end());
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return store::ParseImageRef(value);
}

}  // namespace lode::catalog
