#include "cli/common.h"

#include <cstdlib>

#include "catalog/catalog.h"
#include "cli/output.h"
#include "push/export.h"
#include "util/size.h"

namespace lode::cli {

void ImageArgs::Add(CLI::App* cmd) {
  cmd->add_option("image", image, "OCI layout directory or docker-archive tarball");
  cmd->add_option("--layer", layers,
                  "plain layer tarball (repeat, base layer first) instead of IMAGE");
  cmd->add_option("--platform", platform, "platform to pick from a multi-platform index")
      ->capture_default_str();
  cmd->add_option("--ref", ref, "tag to pick in an OCI layout holding several images");
}

image::Image ImageArgs::Open() const {
  if (image.empty() == layers.empty()) {
    Check(Status::InvalidArgument("give either IMAGE or --layer files, not both or neither"));
  }
  if (!layers.empty()) return Check(image::OpenLayerTarballs(layers));
  image::OpenOptions open;
  open.platform = Check(image::ParsePlatform(platform));
  open.ref = ref;
  return Check(image::OpenImage(image, open));
}

void StoreArgs::Add(CLI::App* cmd) {
  cmd->add_option("--store", url,
                  "object store URL (dir://PATH); default $LODE_STORE or a local store");
}

std::unique_ptr<store::ObjectStore> StoreArgs::Open() const {
  std::string u = url;
  if (u.empty()) {
    const char* env = std::getenv("LODE_STORE");
    u = env && *env ? env : "dir://" + keys::DefaultKeyDir() + "/../store";
  }
  return Check(store::OpenStore(u));
}

void KeysArgs::Add(CLI::App* cmd) {
  cmd->add_option("--keys", dir,
                  "key directory; default $LODE_KEYS or the per-user data directory");
}

std::unique_ptr<keys::KeyService> KeysArgs::Open() const {
  return Check(keys::OpenLocalKeyService(dir.empty() ? keys::DefaultKeyDir() : dir));
}

void PushedImageArgs::Add(CLI::App* cmd) {
  cmd->add_option("ref", ref, "ROOT/MANIFEST-ID or a tag")->required();
  cmd->add_option("--tenant", tenant, "tenant whose key opens the manifest")->required();
  store.Add(cmd);
  keys.Add(cmd);
}

PushedImage OpenPushedImage(const PushedImageArgs& args) {
  PushedImage p;
  p.store = args.store.Open();
  p.keys = args.keys.Open();
  p.ref = Check(catalog::ResolveRef(*p.store, args.tenant, args.ref));
  p.manifest = Check(catalog::OpenManifest(*p.store, p.ref, *p.keys, args.tenant));
  return p;
}

flatten::ProgressFn FlattenProgressReporter(ProgressLine& line, const std::string& verb) {
  return [&line, verb](const flatten::FlattenProgress& p) {
    line.Update(verb + ": layer " + std::to_string(p.layer) + "/" + std::to_string(p.layers) +
                ", " + FormatSize(p.tar_bytes) + " read, " + std::to_string(p.entries) +
                " entries");
  };
}

}  // namespace lode::cli
