// Object keys of a lode store (docs/formats/store-layout.md). Every key lode
// writes is built here.
//
//   <root>/chunks/<64 hex>       a sealed chunk (name = SHA-256 of its bytes)
//   <root>/manifests/<64 hex>    a sealed manifest (id = SHA-256 of its bytes)
//   refs/<tenant>/<tag>          "<root>/<manifest id>": a tenant's named image
#pragma once

#include <string>

#include "util/status.h"

namespace lode::store {

constexpr const char* kDefaultRoot = "root-0";

std::string ChunkKey(const std::string& root, const std::string& name_hex);
std::string ManifestKey(const std::string& root, const std::string& manifest_id);
std::string TagKey(const std::string& tenant, const std::string& tag);
std::string TagPrefix(const std::string& tenant);

// An image reference: "<root>/<manifest id>".
struct ImageRef {
  std::string root;
  std::string manifest_id;
  std::string ToString() const { return root + "/" + manifest_id; }
};
// Parses "<root>/<64 hex>"; anything else is InvalidArgument.
Result<ImageRef> ParseImageRef(const std::string& text);

}  // namespace lode::store
