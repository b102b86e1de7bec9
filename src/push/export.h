// lode export and inspect: open a pushed image's manifest and rebuild the
// ext4 image from its chunks, verifying every chunk (name, then GCM tag)
// before a byte of it is written.
#pragma once

#include <string>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::push {

// Reads and opens the manifest `ref` with the tenant's key pair.
Result<manifest::Manifest> OpenManifest(store::ObjectStore& store, const store::ImageRef& ref,
                                        keys::KeyService& keys, const std::string& tenant);

struct ExportResult {
  uint64_t image_bytes = 0;
  uint64_t chunks_read = 0;
  uint64_t holes = 0;
};

// Writes the image to `path` (atomically: nothing appears on failure). A
// missing or corrupt chunk is an error naming its index.
Result<ExportResult> Export(store::ObjectStore& store, const manifest::Manifest& m,
                            const std::string& path);

// Points a tenant's tag at an image.
Status SetTag(store::ObjectStore& store, const std::string& tenant, const std::string& tag,
              const store::ImageRef& ref);
// A tenant's tags and what they point at, by name.
Result<std::vector<std::pair<std::string, store::ImageRef>>> ListTags(store::ObjectStore& store,
                                                                      const std::string& tenant);

struct ManifestSummary {
  uint64_t holes = 0;
  uint64_t compressed = 0;
  uint64_t stored_bytes = 0;
  // Chunks also named by other manifests of the root that the same key pair
  // opens (other tenants' manifests are unreadable by design).
  uint64_t shared = 0;
  uint64_t other_manifests_opened = 0;
};
Result<ManifestSummary> Summarize(store::ObjectStore& store, const manifest::Manifest& m,
                                  const store::ImageRef& ref, keys::KeyService& keys,
                                  const std::string& tenant);

// Resolves "ROOT/MANIFEST-ID", or a tag of `tenant`, to a reference.
Result<store::ImageRef> ResolveRef(store::ObjectStore& store, const std::string& tenant,
                                   const std::string& text);

}  // namespace lode::push
