// Helpers shared by the image input formats; not part of the public header.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "image/image.h"
#include "image/reference.h"

namespace lode::image {

constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
// Also "...v1+prettyjws" (signed): both start with this.
constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1";

struct ParsedConfig {
  RunConfig run;
  std::vector<Digest> diff_ids;
};

Result<Compression> CompressionOfMediaType(const std::string& media_type);
Result<ParsedConfig> ParseImageConfig(const std::string& text, const std::string& name);
// Sets each layer's expected diff_id; a count mismatch is Corruption.
Status AttachDiffIds(const std::vector<Digest>& diff_ids, const std::string& name,
                     std::vector<Layer>* layers);

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  nlohmann::json annotations;
  nlohmann::json platform;
};
Result<Descriptor> ParseDescriptor(const nlohmann::json& j);
bool IsIndexMediaType(const std::string& media_type);
// Picks the manifest descriptor from an index: by ref name (top level
// only), then by platform. Attestation entries are skipped.
Result<Descriptor> SelectFromIndex(const nlohmann::json& index, const std::string& name,
                                   const OpenOptions& options, bool top_level);

struct ImageManifest {
  Descriptor config;
  std::vector<Descriptor> layers;  // base first
};
Result<ImageManifest> ParseImageManifest(const std::string& text, const std::string& name);
// How layer `index` (base first) named `name` is opened.
using BlobOpener = std::function<std::function<Result<std::unique_ptr<ByteSource>>()>(
    size_t index, const std::string& name)>;
// The Image a manifest and its config describe.
Result<Image> AssembleImage(const ImageManifest& manifest, const std::string& config_text,
                            const BlobOpener& open_blob);

Result<std::unique_ptr<ImageSource>> ResolveOciLayout(const std::string& dir,
                                                      const OpenOptions& options);
Result<Image> OpenDockerArchive(const std::string& path);
Result<std::unique_ptr<ImageSource>> ResolveRegistryImage(const RegistryReference& ref,
                                                          const OpenOptions& options);

// Parses `text` and runs `body` on it; malformed JSON or a missing or mistyped
// field becomes one Corruption line naming `name`.
template <typename T, typename F>
Result<T> ParseJson(const std::string& text, const std::string& name, F body) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Corruption(name + ": broken JSON");
  try {
    return body(doc);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(name + ": unexpected JSON: " + e.what());
  }
}

}  // namespace lode::image
