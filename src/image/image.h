// Image input: opens an OCI image layout directory, a `docker save` tarball,
// or an ordered list of plain layer tarballs, and describes its layers and
// config. Layer streams are opened lazily, verified while they stream: the
// stored blob against its descriptor digest and size, the uncompressed tar
// against the config's diff_id when the image has one.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/byte_source.h"
#include "util/status.h"

namespace lode::image {

// The parts of an image config that starting a container needs.
struct RunConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
};

// {"entrypoint": [...], "cmd": [...], "env": [...], "working_dir": "...",
// "user": "..."}: how lode keeps the run config beside an image.
std::string RunConfigToJson(const RunConfig& config);

struct Layer {
  std::string name;  // for messages: "layer 2 (sha256:...)" or a file name
  Compression compression = Compression::kNone;
  std::optional<Digest> digest;   // expected digest of the stored blob
  std::optional<uint64_t> size;   // expected size of the stored blob
  std::optional<Digest> diff_id;  // expected digest of the uncompressed tar
  // Opens the stored blob (OpenLayer adds the checks).
  std::function<Result<std::unique_ptr<ByteSource>>()> open_blob;
};

// An opened layer: the uncompressed tar stream and the hasher measuring it.
struct Image {
  std::vector<Layer> layers;  // bottom (base) layer first
  RunConfig run_config;
  std::optional<Digest> config_digest;  // absent for plain layer lists
};

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;  // empty matches any
};
Result<Platform> ParsePlatform(const std::string& text);  // "linux/arm64/v8"

struct OpenOptions {
  Platform platform;  // which manifest of a multi-platform index
  std::string ref;  // tag in an OCI layout (org.opencontainers.image.ref.name); empty: the only one
};

// `path` is an OCI layout directory or a docker-archive tarball.
Result<Image> OpenImage(const std::string& path, const OpenOptions& options);
// Plain layer tarballs (any of none/gzip/zstd, sniffed), bottom layer first.
Result<Image> OpenLayerTarballs(const std::vector<std::string>& paths);

}  // namespace lode::image
