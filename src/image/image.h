// Image input: opens an image in a registry, an OCI image layout directory,
// a `docker save` tarball, or an ordered list of plain layer tarballs, and
// describes its layers and config. Layer streams are opened lazily, verified while they stream: the
// stored blob against its descriptor digest and size, the uncompressed tar
// against the config's diff_id when the image has one.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/byte_source.h"
#include "image/registry_auth.h"
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
  // Opens the stored blob (LayerStream::Open adds the checks).
  std::function<Result<std::unique_ptr<ByteSource>>()> open_blob;
};

// An opened layer: the uncompressed tar stream and the hasher measuring it.
struct Image {
  std::vector<Layer> layers;  // bottom (base) layer first
  RunConfig run_config;
  std::optional<Digest> config_digest;  // absent for plain layer lists
  // Registry images: compressed bytes downloaded so far (for progress).
  std::function<uint64_t()> bytes_downloaded;
};

// Every layer's diff_id ("sha256:<hex>"), bottom first; empty unless all
// layers have one.
std::vector<std::string> DiffIds(const Image& image);
// Every layer's stored (compressed) digest, bottom first; empty unless all
// layers have one.
std::vector<std::string> LayerDigests(const Image& image);

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;  // empty matches any
};
Result<Platform> ParsePlatform(const std::string& text);  // "linux/arm64/v8"

// How images are pulled from registries (docker://...).
struct RegistryOptions {
  // Explicit credentials (--creds); otherwise registry_auth.h looks them up.
  std::optional<RegistryCredentials> creds;
  std::string auth_file;  // only this auth file (--authfile)
  // CA certificates (*.crt) and client certificates (*.cert + *.key) for the
  // registry; empty: /etc/containers/certs.d/HOST[:PORT] and
  // /etc/docker/certs.d/HOST[:PORT].
  std::string cert_dir;
  bool tls_verify = true;  // false: accept any certificate, allow plain http
  // Layers downloaded at once, into unlinked files in `spool_dir` (default
  // $TMPDIR, else /var/tmp) that the flattener reads as they grow.
  int concurrent_downloads = 3;
  std::string spool_dir;
  long connect_timeout_ms = 10000;
  long stall_timeout_seconds = 30;  // a transfer with no byte for this long fails
};

struct OpenOptions {
  Platform platform;  // which manifest of a multi-platform index
  std::string ref;  // tag in an OCI layout (org.opencontainers.image.ref.name); empty: the only one
  RegistryOptions registry;
};

// An image named by a reference (image/reference.h) and resolved up to its
// manifest: no layer and no config has been read yet, so a caller can
// decide from the digest whether it needs the image at all.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The reference as resolved ("docker://127.0.0.1:5000/app:v1", a path).
  virtual std::string Describe() const = 0;
  // The image manifest chosen (after platform selection); absent for
  // docker-archive tarballs and layer lists.
  virtual std::optional<Digest> manifest_digest() const = 0;
  // True for registry images: reading their layers costs downloads.
  virtual bool remote() const { return false; }
  // The index the manifest was chosen from, when there was one.
  virtual std::optional<Digest> index_digest() const { return std::nullopt; }
  // Reads the config and describes the layers (streams open lazily).
  virtual Result<Image> Open() = 0;
};

// `reference` in any transport syntax of image/reference.h.
Result<std::unique_ptr<ImageSource>> ResolveImage(const std::string& reference,
                                                  const OpenOptions& options);

// `path` is an OCI layout directory or a docker-archive tarball.
Result<Image> OpenImage(const std::string& path, const OpenOptions& options);
// Plain layer tarballs (any of none/gzip/zstd, sniffed), bottom layer first.
Result<Image> OpenLayerTarballs(const std::vector<std::string>& paths);

}  // namespace lode::image
