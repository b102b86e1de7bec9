// What every push does before its first chunk and after its last: pick
// the root and salt and the tenant's key, then seal the manifest and store
// it once every chunk it names is durable. Shared by Push and
// PushSnapshot; not part of the component's interface.
#pragma once

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "push/chunk_uploader.h"
#include "push/push.h"
#include "store/object_store.h"
#include "store/roots.h"
#include "util/status.h"

namespace lode::push {

struct PushTarget {
  keys::PublicKey tenant_key;
  store::RootRecord root;
  keys::SaltId salt_id;
  keys::Salt salt;
  int threads = 1;
};
// `root`: an active root, or empty for the newest.
Result<PushTarget> PrepareTarget(const PushOptions& options, const std::string& root,
                                 keys::KeyService& keys, store::ObjectStore& store);

// Seals `m` to the target's tenant and stores it, unless its root was
// retired meanwhile (a root being migrated would miss it); the counts
// come from `m` and `uploaded`.
Result<PushResult> PublishManifest(const manifest::Manifest& m, const PushTarget& target,
                                   const UploadStats& uploaded, store::ObjectStore& store);

}  // namespace lode::push
