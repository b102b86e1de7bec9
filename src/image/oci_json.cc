// The JSON documents of OCI images and Docker schema 2, shared by OCI layouts
// and registries: descriptors, indexes (with platform selection) and image
// manifests.
#include <nlohmann/json.hpp>

#include "image/image_internal.h"
#include "util/json_int.h"

namespace lode::image {
namespace {

using nlohmann::json;

// arm64 images are v8 unless they say otherwise; arm ones v7.
std::string NormalVariant(const std::string& architecture, const std::string& variant) {
  if (!variant.empty()) return variant;
  if (architecture == "arm64") return "v8";
  if (architecture == "arm") return "v7";
  return "";
}

bool MatchesPlatform(const json& p, const Platform& want) {
  if (p.empty()) return false;
  std::string architecture = p.value("architecture", "");
  return p.value("os", "") == want.os && architecture == want.architecture &&
         (want.variant.empty() || NormalVariant(architecture, p.value("variant", "")) ==
                                      NormalVariant(want.architecture, want.variant));
}

std::string PlatformString(const Platform& p) {
  return p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
}

// BuildKit stores attestations as index entries of platform unknown/unknown.
bool IsAttestation(const Descriptor& d) {
  return d.annotations.value("vnd.docker.reference.type", "") == "attestation-manifest" ||
         (d.platform.value("os", "") == "unknown" &&
          d.platform.value("architecture", "") == "unknown");
}

}  // namespace

bool IsIndexMediaType(const std::string& media_type) {
  return media_type == kOciIndex || media_type == kDockerList;
}

Result<Descriptor> ParseDescriptor(const json& j) {
  Descriptor d;
  d.media_type = j.value("mediaType", "");
  LODE_ASSIGN_OR_RETURN(d.digest, ParseDigest(j.at("digest").get<std::string>()));
  d.size = IntegerOf<uint64_t>(j.at("size"));
  d.annotations = j.value("annotations", json::object());
  d.platform = j.value("platform", json::object());
  return d;
}

Result<Descriptor> SelectFromIndex(const json& index, const std::string& name,
                                   const OpenOptions& options, bool top_level) {
  std::vector<Descriptor> all;
  for (const json& m : index.at("manifests")) {
    LODE_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(m));
    if (!IsAttestation(d)) all.push_back(std::move(d));
  }
  if (top_level && !options.ref.empty()) {
    std::vector<Descriptor> named;
    for (const Descriptor& d : all) {
      if (d.annotations.value("org.opencontainers.image.ref.name", "") == options.ref) {
        named.push_back(d);
      }
    }
    if (named.empty()) return Status::NotFound("no image tagged '" + options.ref + "' in " + name);
    all = std::move(named);
  }
  if (all.empty()) return Status::NotFound(name + " lists no manifests");
  if (all.size() == 1) return all[0];
  for (const Descriptor& d : all) {
    if (MatchesPlatform(d.platform, options.platform)) return d;
  }
  if (top_level && options.ref.empty()) {
    bool any_platform = false;
    for (const Descriptor& d : all) any_platform |= !d.platform.empty();
    if (!any_platform) {
      return Status::InvalidArgument(name + " holds several images; choose one with --ref");
    }
  }
  return Status::NotFound("no manifest for platform " + PlatformString(options.platform) + " in " +
                          name);
}

Result<ImageManifest> ParseImageManifest(const std::string& text, const std::string& name) {
  return ParseJson<ImageManifest>(text, name, [&](const json& doc) -> Result<ImageManifest> {
    std::string type = doc.value("mediaType", "");
    if (IsIndexMediaType(type)) return Status::Corruption(name + " is an index, not a manifest");
    ImageManifest m;
    LODE_ASSIGN_OR_RETURN(m.config, ParseDescriptor(doc.at("config")));
    for (const json& l : doc.at("layers")) {
      LODE_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(l));
      m.layers.push_back(std::move(d));
    }
    if (m.layers.empty()) return Status::Corruption(name + " has no layers");
    return m;
  });
}

Result<Image> AssembleImage(const ImageManifest& manifest, const std::string& config_text,
                            const BlobOpener& open_blob) {
  std::string cname = "config " + manifest.config.digest.ToString();
  LODE_ASSIGN_OR_RETURN(ParsedConfig config, ParseImageConfig(config_text, cname));
  Image img;
  img.run_config = config.run;
  img.config_digest = manifest.config.digest;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& d = manifest.layers[i];
    Layer layer;
    layer.name = "layer " + std::to_string(i) + " (" + d.digest.ToString() + ")";
    Result<Compression> compression = CompressionOfMediaType(d.media_type);
    if (!compression.ok()) return compression.status().WithContext(layer.name);
    layer.compression = *compression;
    layer.digest = d.digest;
    layer.size = d.size;
    layer.open_blob = open_blob(i, layer.name);
    img.layers.push_back(std::move(layer));
  }
  LODE_RETURN_IF_ERROR(AttachDiffIds(config.diff_ids, cname, &img.layers));
  return img;
}

}  // namespace lode::image
