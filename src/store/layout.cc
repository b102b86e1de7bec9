#include "store/layout.h"

#include "store/object_store.h"

namespace lode::store {

std::string ChunkKey(const std::string& root, const std::string& name_hex) {
  return root + "/chunks/" + name_hex;
}

std::string ManifestKey(const std::string& root, const std::string& manifest_id) {
  return root + "/manifests/" + manifest_id;
}

std::string TagKey(const std::string& tenant, const std::string& tag) {
  return TagPrefix(tenant) + tag;
}
std::string TagPrefix(const std::string& tenant) { return "refs/" + tenant + "/"; }

Result<ImageRef> ParseImageRef(const std::string& text) {
  size_t slash = text.find('/');
  ImageRef ref;
  if (slash != std::string::npos) {
    ref.root = text.substr(0, slash);
    ref.manifest_id = text.substr(slash + 1);
  }
  bool hex = ref.manifest_id.size() == 64 &&
             ref.manifest_id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex || ref.root.empty() || ref.root.find('/') != std::string::npos ||
      !ValidateKey(ManifestKey(ref.root, ref.manifest_id)).ok()) {
    return Status::InvalidArgument("bad image reference '" + text + "' (want ROOT/MANIFEST-ID)");
  }
  return ref;
}

}  // namespace lode::store
