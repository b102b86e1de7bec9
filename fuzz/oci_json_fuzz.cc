// OCI and Docker image JSON: manifests, configs, indexes (with platform
// selection), digests and platform strings; and the JSON a snapshot's
// manifest carries in place of a run config.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "image/byte_source.h"
#include "image/image.h"
#include "image/image_internal.h"
#include "vm/snapshot_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::image;
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)ParseImageManifest(text, "fuzz");
  (void)ParseImageConfig(text, "fuzz");
  (void)ParseDigest(text);
  (void)ParsePlatform(text);
  // As the layout and registry readers call them: inside ParseJson, which
  // turns JSON of the wrong shape into an error.
  (void)ParseJson<Descriptor>(text, "fuzz", [](const nlohmann::json& j) {
    return SelectFromIndex(j, "latest", OpenOptions{}, true);
  });
  (void)ParseJson<Descriptor>(text, "fuzz",
                              [](const nlohmann::json& j) { return ParseDescriptor(j); });
  for (uint64_t file_bytes : {uint64_t{1} << 30, uint64_t{size}}) {
    (void)lode::vm::DecodeSnapshotInfo(text, file_bytes);
  }
  return 0;
}
