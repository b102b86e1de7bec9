// lode export and inspect: rebuild the ext4 image of a pushed image from its
// chunks (its block file as the agent serves it, page map applied),
// verifying every chunk (name, then GCM tag) before a byte of it is
// written; summarize a manifest.
#pragma once

#include <string>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::push {

struct ExportResult {
  uint64_t image_bytes = 0;
  uint64_t chunks_read = 0;
  uint64_t holes = 0;
};

// Writes the image to `path` (atomically: nothing appears on failure). A
// missing or corrupt chunk is an error naming its index.
Result<ExportResult> Export(store::ObjectStore& store, const manifest::Manifest& m,
                            const std::string& path);

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

}  // namespace lode::push
