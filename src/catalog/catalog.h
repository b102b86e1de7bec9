// A tenant's images in a store: references ("ROOT/MANIFEST-ID"), tags naming
// them, and opening a referenced manifest with the tenant's key pair. Used by
// push (tagging), the agent (attaching) and the CLI.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chunk/convergent.h"
#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::catalog {

// Reads the manifest `ref`, checks it against its id and opens it with the
// tenant's key pair.
Result<manifest::Manifest> OpenManifest(store::ObjectStore& store, const store::ImageRef& ref,
                                        keys::KeyService& keys, const std::string& tenant);

// Points a tenant's tag at an image.
Status SetTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag,
              const store::ImageRef& ref);
// A tenant's tags and what they point at, by name.
Result<std::vector<std::pair<std::string, store::ImageRef>>> ListTags(store::ObjectStore& store,
                                                                      const std::string& tenant);

// Removes a tenant's tag; NotFound when it does not exist.
Status DeleteTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag);
// Points `tag` at `to` if it still points at `from`; false when it moved
// elsewhere or is gone (another writer won).
Result<bool> MoveTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag,
                     const store::ImageRef& from, const store::ImageRef& to);

struct TaggedImage {
  std::string tenant;
  std::string tag;
  store::ImageRef ref;
};
// Every tenant's tags.
Result<std::vector<TaggedImage>> ListAllTags(store::ObjectStore& store);

// Migrations (gc): where an image was copied when its root retired. Kept
// after the old root is deleted, so a reader holding an old reference can
// always find the image's new place.
Status RecordMigration(store::ObjectStore& store, const store::ImageRef& from,
                       const store::ImageRef& to);
Result<std::optional<store::ImageRef>> FindMigration(store::ObjectStore& store,
                                                     const store::ImageRef& from);

// Stores a sealed chunk in `root` unless it is there; true when it was
// uploaded.
Result<bool> PutChunkIfAbsent(store::ObjectStore& store, const std::string& root,
                              const chunk::SealedChunk& sealed);

// Resolves "ROOT/MANIFEST-ID", or a tag of `tenant`, to a reference.
Result<store::ImageRef> ResolveRef(store::ObjectStore& store, const std::string& tenant,
                                   const std::string& text);

}  // namespace lode::catalog
