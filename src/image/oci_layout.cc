// OCI image layout directories: oci-layout, index.json, blobs/sha256/<hex>.
// index.json may point at a manifest or at a nested index (multi-platform);
// every blob read is checked against the digest and size that named it.
#include <nlohmann/json.hpp>

#include "image/image_internal.h"

namespace lode::image {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxJsonBlob = 16 << 20;  // manifests and configs are small

constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  json annotations;
  json platform;
};

Result<Descriptor> ParseDescriptor(const json& j) {
  Descriptor d;
  d.media_type = j.value("mediaType", "");
  LODE_ASSIGN_OR_RETURN(d.digest, ParseDigest(j.at("digest").get<std::string>()));
  d.size = j.at("size").get<uint64_t>();
  d.annotations = j.value("annotations", json::object());
  d.platform = j.value("platform", json::object());
  return d;
}

class Layout {
 public:
  explicit Layout(std::string dir) : dir_(std::move(dir)) {}

  std::string BlobPath(const Digest& d) const { return dir_ + "/blobs/sha256/" + d.Hex(); }

  Result<std::unique_ptr<ByteSource>> OpenRawBlob(const Descriptor& d,
                                                  const std::string& name) const {
    Result<UniqueFd> fd = OpenForRead(BlobPath(d.digest));
    if (!fd.ok()) return fd.status().WithContext("blob " + d.digest.ToString() + " of " + name);
    return NewFileSource(std::move(*fd), name);
  }

  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d, const std::string& name) const {
    LODE_ASSIGN_OR_RETURN(auto raw, OpenRawBlob(d, name));
    return std::unique_ptr<ByteSource>(
        std::make_unique<HashingSource>(std::move(raw), name, d.digest, d.size));
  }

  Result<std::string> ReadJsonBlob(const Descriptor& d, const std::string& name) const {
    if (d.size > kMaxJsonBlob) return Status::Corruption(name + ": descriptor size too large");
    LODE_ASSIGN_OR_RETURN(auto src, OpenBlob(d, name));
    std::string out(d.size, '\0');
    size_t pos = 0;
    while (true) {
      auto span = std::span(reinterpret_cast<uint8_t*>(out.data()) + pos, out.size() - pos);
      if (span.empty()) {
        uint8_t extra;
        LODE_ASSIGN_OR_RETURN(size_t n, src->Read(std::span(&extra, 1)));
        if (n == 0) break;
        return Status::Corruption(name + ": larger than its descriptor's size");
      }
      LODE_ASSIGN_OR_RETURN(size_t n, src->Read(span));
      if (n == 0) break;  // HashingSource has reported a short blob already
      pos += n;
    }
    return out;
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

bool MatchesPlatform(const json& p, const Platform& want) {
  if (p.empty()) return false;
  return p.value("os", "") == want.os && p.value("architecture", "") == want.architecture &&
         (want.variant.empty() || p.value("variant", "") == want.variant);
}

std::string PlatformString(const Platform& p) {
  return p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
}

// Picks the manifest descriptor from an index: by ref name, then by platform.
Result<Descriptor> SelectFromIndex(const json& index, const std::string& name,
                                   const OpenOptions& options, bool top_level) {
  std::vector<Descriptor> all;
  for (const json& m : index.at("manifests")) {
    LODE_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(m));
    all.push_back(std::move(d));
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

Result<Image> ReadManifest(const Layout& layout, const Descriptor& desc) {
  std::string mname = "manifest " + desc.digest.ToString();
  LODE_ASSIGN_OR_RETURN(std::string text, layout.ReadJsonBlob(desc, mname));
  return ParseJson<Image>(text, mname, [&](const json& doc) -> Result<Image> {
    LODE_ASSIGN_OR_RETURN(Descriptor config_desc, ParseDescriptor(doc.at("config")));
    std::string cname = "config " + config_desc.digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string config_text, layout.ReadJsonBlob(config_desc, cname));
    LODE_ASSIGN_OR_RETURN(ParsedConfig config, ParseImageConfig(config_text, cname));
    Image img;
    img.run_config = config.run;
    img.config_digest = config_desc.digest;
    int index = 0;
    for (const json& l : doc.at("layers")) {
      LODE_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(l));
      Layer layer;
      layer.name = "layer " + std::to_string(index++) + " (" + d.digest.ToString() + ")";
      Result<Compression> compression = CompressionOfMediaType(d.media_type);
      if (!compression.ok()) return compression.status().WithContext(layer.name);
      layer.compression = *compression;
      layer.digest = d.digest;
      layer.size = d.size;
      layer.open_blob = [layout, d, name = layer.name]() { return layout.OpenRawBlob(d, name); };
      img.layers.push_back(std::move(layer));
    }
    if (img.layers.empty()) return Status::Corruption(mname + " has no layers");
    LODE_RETURN_IF_ERROR(AttachDiffIds(config.diff_ids, cname, &img.layers));
    return img;
  });
}

}  // namespace

Result<Image> OpenOciLayout(const std::string& dir, const OpenOptions& options) {
  Layout layout(dir);
  Result<std::string> marker = ReadFileToString(dir + "/oci-layout");
  if (!marker.ok())
    return Status::InvalidArgument(dir + " is not an OCI image layout (no oci-layout file)");
  LODE_ASSIGN_OR_RETURN(std::string index_text, ReadFileToString(dir + "/index.json"));
  std::string name = dir + "/index.json";
  Result<Descriptor> chosen = ParseJson<Descriptor>(index_text, name, [&](const json& index) {
    return SelectFromIndex(index, name, options, /*top_level=*/true);
  });
  // Nested indexes (multi-platform images) are followed to a manifest.
  for (int depth = 0; chosen.ok(); ++depth) {
    if (chosen->media_type != kOciIndex && chosen->media_type != kDockerList) break;
    if (depth > 4) return Status::Corruption(name + ": indexes nested too deeply");
    std::string iname = "index " + chosen->digest.ToString();
    LODE_ASSIGN_OR_RETURN(std::string text, layout.ReadJsonBlob(*chosen, iname));
    chosen = ParseJson<Descriptor>(text, iname, [&](const json& index) {
      return SelectFromIndex(index, iname, options, /*top_level=*/false);
    });
  }
  if (!chosen.ok()) return chosen.status();
  return ReadManifest(layout, *chosen);
}

}  // namespace lode::image
