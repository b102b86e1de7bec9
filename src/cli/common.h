// Options and helpers shared by several verbs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "flatten/flatten.h"
#include "image/image.h"
#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "store/object_store.h"

namespace lode::cli {

// IMAGE (a reference: docker://, oci:, docker-archive: or a path) or
// --layer files, with --platform, --ref and the registry options.
struct ImageArgs {
  std::string image;
  std::vector<std::string> layers;
  std::string platform = "linux/amd64";
  std::string ref;
  std::string creds;
  std::string auth_file;
  std::string cert_dir;
  bool tls_verify = true;
  int concurrent_downloads = 3;
  void Add(CLI::App* cmd);
  // IMAGE resolved up to its manifest; null with --layer.
  std::unique_ptr<image::ImageSource> Resolve() const;  // throws CommandFailed
  // The source's image, or the --layer files.
  image::Image Open(image::ImageSource* source) const;  // throws CommandFailed
};

// What shapes the ext4 image: --headroom, and --max-size, the input limit.
struct FlattenArgs {
  std::string headroom = "64MiB";
  std::string max_size = "64GiB";
  void Add(CLI::App* cmd);
  flatten::FlattenOptions Options() const;  // throws CommandFailed
};

// --store URL (default $LODE_STORE, else a dir:// store in the data directory).
struct StoreArgs {
  std::string url;
  void Add(CLI::App* cmd);
  std::unique_ptr<store::ObjectStore> Open() const;
};

// --keys DIR (default $LODE_KEYS, else the per-user data directory), or
// --keyd SOCKET (default $LODE_KEYD): keys through the key daemon.
struct KeysArgs {
  std::string dir;
  std::string keyd;
  void Add(CLI::App* cmd);
  std::unique_ptr<keys::KeyService> Open() const;
};

// A pushed image opened by REF (ROOT/MANIFEST-ID or a tag) with the
// tenant's key pair: `ref` and --tenant options, store and key service.
struct PushedImageArgs {
  StoreArgs store;
  KeysArgs keys;
  std::string tenant, ref;
  void Add(CLI::App* cmd);
};
struct PushedImage {
  std::unique_ptr<store::ObjectStore> store;
  std::unique_ptr<keys::KeyService> keys;
  store::ImageRef ref;
  manifest::Manifest manifest;
};
PushedImage OpenPushedImage(const PushedImageArgs& args);  // throws CommandFailed

// Renders flatten progress (and the downloads of registry images) on the
// terminal.
flatten::ProgressFn FlattenProgressReporter(class ProgressLine& line, const std::string& verb,
                                            const image::Image& img);

// Seconds of "90s", "30m", "12h", "7d" (a bare number is seconds); a bad
// one fails the command.
int64_t ParseDuration(const std::string& text);

// Waits for SIGTERM or SIGINT and returns which (through an eventfd: a
// blocked signal mask would be inherited by every child).
int AwaitStopSignal();

}  // namespace lode::cli
