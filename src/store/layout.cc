#include "store/layout.h"

#include <cctype>

#include "store/object_store.h"

namespace lode::store {

std::string ChunkKey(const std::string& root, const std::string& name_hex) {
  return root + "/chunks/" + name_hex;
}

std::string ManifestKey(const std::string& root, const std::string& manifest_id) {
  return root + "/manifests/" + manifest_id;
}

std::string SourceKey(const std::string& root, const std::string& id_hex) {
  return root + "/sources/" + id_hex;
}

std::string ProfileKey(const std::string& root, const std::string& manifest_id) {
  return root + "/profiles/" + manifest_id;
}

std::string TagKey(const std::string& tenant, const std::string& tag) {
  return TagPrefix(tenant) + tag;
}
std::string TagPrefix(const std::string& tenant) { return kTagsPrefix + tenant + "/"; }
std::string FunctionKey(const std::string& tenant, const std::string& name) {
  return FunctionPrefix(tenant) + name;
}
std::string FunctionPrefix(const std::string& tenant) { return "functions/" + tenant + "/"; }

std::string RootRecordKey(const std::string& root) { return kRootRecordPrefix + root; }
std::string AlarmPrefix(const std::string& root) {
  return root.empty() ? "gc/alarms/" : "gc/alarms/" + root + "/";
}
std::string MigrationKey(const std::string& root, const std::string& manifest_id) {
  return "gc/migrations/" + root + "/" + manifest_id;
}
std::string RootPrefix(const std::string& root) { return root + "/"; }

std::string RootOfKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return "";
  std::string first = key.substr(0, slash);
  return ValidateRootId(first).ok() ? first : "";
}

Status ValidateRootId(const std::string& root) {
  // The store's own top-level prefixes (refs/, gc/, functions/) cannot name
  // a root.
  bool ok = !root.empty() && root.size() <= 64 && root != "refs" && root != "gc" &&
            root != "functions" && root[0] != '_' && root[0] != '-';
  for (char c : root) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  return ok ? Status::Ok() : Status::InvalidArgument("bad root name '" + root + "'");
}

Result<ImageRef> ParseImageRef(const std::string& text) {
  size_t slash = text.find('/');
  ImageRef ref;
  if (slash != std::string::npos) {
    ref.root = text.substr(0, slash);
    ref.manifest_id = text.substr(slash + 1);
  }
  bool hex = ref.manifest_id.size() == 64 &&
             ref.manifest_id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex || !ValidateRootId(ref.root).ok()) {
    return Status::InvalidArgument("bad image reference '" + text + "' (want ROOT/MANIFEST-ID)");
  }
  return ref;
}

}  // namespace lode::store
