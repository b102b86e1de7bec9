// Object keys of a lode store (docs/formats/store-layout.md). Every key lode
// writes is built here.
//
//   <root>/chunks/<64 hex>       a sealed chunk (name = SHA-256 of its bytes)
//   <root>/manifests/<64 hex>    a sealed manifest (id = SHA-256 of its bytes)
//   <root>/sources/<64 hex>      which manifest a registry image was pushed as
//   <root>/profiles/<64 hex>     the sealed startup profile of manifest <id>
//   refs/<tenant>/<tag>          "<root>/<manifest id>": a tenant's named image
//   functions/<tenant>/<name>    a tenant's function, sealed (catalog/function.h)
//   gc/roots/<root>              a root's record (store/roots.h)
//   gc/alarms/<root>/<alarm>     a read from the root after it expired
//   gc/migrations/<root>/<id>    where manifest <id> of <root> was migrated to
#pragma once

#include <string>

#include "util/status.h"

namespace lode::store {

constexpr const char* kDefaultRoot = "root-0";

std::string ChunkKey(const std::string& root, const std::string& name_hex);
std::string ManifestKey(const std::string& root, const std::string& manifest_id);
std::string SourceKey(const std::string& root, const std::string& id_hex);
std::string ProfileKey(const std::string& root, const std::string& manifest_id);
std::string TagKey(const std::string& tenant, const std::string& tag);
std::string TagPrefix(const std::string& tenant);
std::string FunctionKey(const std::string& tenant, const std::string& name);
std::string FunctionPrefix(const std::string& tenant);
constexpr const char* kTagsPrefix = "refs/";
constexpr const char* kRootRecordPrefix = "gc/roots/";
std::string RootRecordKey(const std::string& root);
std::string AlarmPrefix(const std::string& root);  // root "" : every root's alarms
std::string MigrationKey(const std::string& root, const std::string& manifest_id);
// What lies under a root: its chunks and manifests.
std::string RootPrefix(const std::string& root);
// The root an object key lies under, or "" for keys outside roots.
std::string RootOfKey(const std::string& key);

// InvalidArgument unless `root` can name a root: [a-z0-9][a-z0-9_-]*, at
// most 64 characters, and not one of the store's own prefixes (refs, gc,
// functions).
Status ValidateRootId(const std::string& root);

// An image reference: "<root>/<manifest id>".
struct ImageRef {
  std::string root;
  std::string manifest_id;
  std::string ToString() const { return root + "/" + manifest_id; }
};
// Parses "<root>/<64 hex>"; anything else is InvalidArgument.
Result<ImageRef> ParseImageRef(const std::string& text);

}  // namespace lode::store
