// Shared pieces of image input: layer opening, media types, config parsing.
#include "image/image.h"

#include <nlohmann/json.hpp>

#include "image/image_internal.h"

namespace lode::image {

using nlohmann::json;

std::string RunConfigToJson(const RunConfig& c) {
  json j = {{"entrypoint", c.entrypoint},
            {"cmd", c.cmd},
            {"env", c.env},
            {"working_dir", c.working_dir},
            {"user", c.user}};
  return j.dump();
}

namespace {

// One digest field of every layer; empty unless all layers have it.
std::vector<std::string> EveryLayers(const Image& image, std::optional<Digest> Layer::*field) {
  std::vector<std::string> digests;
  for (const Layer& layer : image.layers) {
    if (!(layer.*field)) return {};
    digests.push_back((layer.*field)->ToString());
  }
  return digests;
}

}  // namespace

std::vector<std::string> DiffIds(const Image& image) { return EveryLayers(image, &Layer::diff_id); }

std::vector<std::string> LayerDigests(const Image& image) {
  return EveryLayers(image, &Layer::digest);
}

Result<Compression> CompressionOfMediaType(const std::string& media_type) {
  static const std::pair<const char*, Compression> kTypes[] = {
      {"application/vnd.oci.image.layer.v1.tar", Compression::kNone},
      {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::kGzip},
      {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::kZstd},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::kNone},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::kGzip},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::kZstd},
      {"application/vnd.docker.image.rootfs.diff.tar", Compression::kNone},
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::kGzip},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::kGzip},
  };
  for (const auto& [type, compression] : kTypes) {
    if (media_type == type) return compression;
  }
  return Status::InvalidArgument("unknown layer media type '" + media_type + "'");
}

namespace {

std::vector<std::string> StringList(const json& config, const char* key) {
  std::vector<std::string> out;
  if (config.contains(key) && config[key].is_array()) {
    for (const json& v : config[key]) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string StringField(const json& config, const char* key) {
  if (config.contains(key) && config[key].is_string()) return config[key].get<std::string>();
  return "";
}

}  // namespace

Result<ParsedConfig> ParseImageConfig(const std::string& text, const std::string& name) {
  return ParseJson<ParsedConfig>(text, name, [&](const json& doc) -> Result<ParsedConfig> {
    ParsedConfig parsed;
    if (doc.contains("config") && doc["config"].is_object()) {
      const json& c = doc["config"];
      parsed.run.entrypoint = StringList(c, "Entrypoint");
      parsed.run.cmd = StringList(c, "Cmd");
      parsed.run.env = StringList(c, "Env");
      parsed.run.working_dir = StringField(c, "WorkingDir");
      parsed.run.user = StringField(c, "User");
    }
    if (doc.contains("rootfs")) {
      for (const json& id : doc["rootfs"].at("diff_ids")) {
        LODE_ASSIGN_OR_RETURN(Digest d, ParseDigest(id.get<std::string>()));
        parsed.diff_ids.push_back(d);
      }
    }
    return parsed;
  });
}

Status AttachDiffIds(const std::vector<Digest>& diff_ids, const std::string& name,
                     std::vector<Layer>* layers) {
  if (diff_ids.empty()) return Status::Ok();
  if (diff_ids.size() != layers->size()) {
    return Status::Corruption(name + ": config lists " + std::to_string(diff_ids.size()) +
                              " diff_ids for " + std::to_string(layers->size()) + " layers");
  }
  for (size_t i = 0; i < diff_ids.size(); ++i) (*layers)[i].diff_id = diff_ids[i];
  return Status::Ok();
}

Result<Platform> ParsePlatform(const std::string& text) {
  Platform p;
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
    return Status::InvalidArgument("platform '" + text + "' is not OS/ARCH[/VARIANT]");
  }
  p.os = text.substr(0, slash);
  std::string rest = text.substr(slash + 1);
  size_t slash2 = rest.find('/');
  p.architecture = rest.substr(0, slash2);
  if (slash2 != std::string::npos) p.variant = rest.substr(slash2 + 1);
  return p;
}

Result<Image> OpenLayerTarballs(const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::InvalidArgument("no layer tarballs given");
  Image img;
  for (const std::string& path : paths) {
    if (::access(path.c_str(), R_OK) != 0) return Status::FromErrno(errno, "open " + path);
    Layer layer;
    layer.name = path;
    layer.compression = Compression::kAuto;
    layer.open_blob = [path]() -> Result<std::unique_ptr<ByteSource>> {
      LODE_ASSIGN_OR_RETURN(UniqueFd f, OpenForRead(path));
      return NewFileSource(std::move(f), path);
    };
    img.layers.push_back(std::move(layer));
  }
  return img;
}

namespace {

// A `docker save` tarball: nothing to resolve before reading it.
class DockerArchiveSource : public ImageSource {
 public:
  explicit DockerArchiveSource(std::string path) : path_(std::move(path)) {}
  std::string Describe() const override { return "docker-archive:" + path_; }
  std::optional<Digest> manifest_digest() const override { return std::nullopt; }
  Result<Image> Open() override { return OpenDockerArchive(path_); }

 private:
  std::string path_;
};

Result<std::unique_ptr<ImageSource>> ResolvePath(const std::string& path,
                                                 const OpenOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("image " + path);
  if (S_ISDIR(st.st_mode)) return ResolveOciLayout(path, options);
  return std::unique_ptr<ImageSource>(std::make_unique<DockerArchiveSource>(path));
}

}  // namespace

Result<std::unique_ptr<ImageSource>> ResolveImage(const std::string& reference,
                                                  const OpenOptions& options) {
  LODE_ASSIGN_OR_RETURN(ImageReference ref, ParseImageReference(reference));
  switch (ref.transport) {
    case Transport::kRegistry:
      return ResolveRegistryImage(ref.registry, options);
    case Transport::kOciLayout: {
      OpenOptions o = options;
      if (!ref.ref.empty()) {
        if (!o.ref.empty() && o.ref != ref.ref) {
          return Status::InvalidArgument("image '" + reference + "' and --ref " + o.ref +
                                         " name different images");
        }
        o.ref = ref.ref;
      }
      return ResolveOciLayout(ref.path, o);
    }
    case Transport::kDockerArchive:
      if (::access(ref.path.c_str(), R_OK) != 0) return Status::NotFound("image " + ref.path);
      return std::unique_ptr<ImageSource>(std::make_unique<DockerArchiveSource>(ref.path));
    case Transport::kPath:
      break;
  }
  return ResolvePath(ref.path, options);
}

Result<Image> OpenImage(const std::string& path, const OpenOptions& options) {
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<ImageSource> source, ResolvePath(path, options));
  return source->Open();
}

}  // namespace lode::image
