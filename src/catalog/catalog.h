// A tenant's images in a store: references ("ROOT/MANIFEST-ID"), tags naming
// them, and opening a referenced manifest with the tenant's key pair. Used by
// push (tagging), the agent (attaching) and the CLI.
#pragma once

#include <string>
#include <utility>
#include <vector>

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

// Resolves "ROOT/MANIFEST-ID", or a tag of `tenant`, to a reference.
Result<store::ImageRef> ResolveRef(store::ObjectStore& store, const std::string& tenant,
                                   const std::string& text);

}  // namespace lode::catalog
