#include "push/target.h"

#include <thread>

#include "store/layout.h"

namespace lode::push {

Result<PushTarget> PrepareTarget(const PushOptions& options, const std::string& root,
                                 keys::KeyService& keys, store::ObjectStore& store) {
  PushTarget t;
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(options.tenant));
  LODE_ASSIGN_OR_RETURN(t.tenant_key, keys.TenantPublicKey(options.tenant));
  LODE_ASSIGN_OR_RETURN(t.root, store::PushRoot(store, root));
  LODE_ASSIGN_OR_RETURN(uint32_t epoch, keys.CurrentSaltEpoch(t.root.id, options.salt_domain));
  t.salt_id = {t.root.id, options.salt_domain, epoch};
  LODE_ASSIGN_OR_RETURN(t.salt, keys.GetOrCreateSalt(t.salt_id));
  t.threads = options.threads > 0
                  ? options.threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return t;
}

Result<PushResult> PublishManifest(const manifest::Manifest& m, const PushTarget& target,
                                   const UploadStats& uploaded, store::ObjectStore& store) {
  PushResult result;
  std::vector<uint8_t> sealed = manifest::Seal(m, target.tenant_key);
  result.ref = {target.root.id, manifest::ManifestId(sealed)};
  // A root retired meanwhile may already be migrated: a manifest landing
  // there now would not be.
  LODE_ASSIGN_OR_RETURN(store::RootRecord root, store::GetRoot(store, target.root.id));
  if (root.state != store::RootState::kActive) {
    return Status::Rejected("root " + root.id + " was " + store::RootStateName(root.state) +
                            " during the push: push again");
  }
  // Last: every chunk the manifest names is already durable.
  LODE_RETURN_IF_ERROR(
      store.Put(store::ManifestKey(result.ref.root, result.ref.manifest_id), sealed));
  result.image_bytes = m.fs_size;
  result.chunks_total = m.chunks.size();
  for (const auto& e : m.chunks) result.chunks_holes += e.hole() ? 1 : 0;
  result.chunks_existing = uploaded.existing;
  result.chunks_new = uploaded.uploaded;
  result.bytes_uploaded = uploaded.bytes_uploaded + sealed.size();
  return result;
}

}  // namespace lode::push
