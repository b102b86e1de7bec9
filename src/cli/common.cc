#include "cli/common.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include "catalog/catalog.h"
#include "cli/output.h"
#include "keys/keyd_client.h"
#include "push/export.h"
#include "util/size.h"

namespace lode::cli {

void ImageArgs::Add(CLI::App* cmd) {
  cmd->add_option("image", image,
                  "docker://HOST[:PORT]/REPO[:TAG|@DIGEST], oci:DIR[:REF], docker-archive:FILE, "
                  "or a path to an OCI layout directory or docker-archive tarball");
  cmd->add_option("--layer", layers,
                  "plain layer tarball (repeat, base layer first) instead of IMAGE");
  cmd->add_option("--platform", platform, "platform to pick from a multi-platform index")
      ->capture_default_str();
  cmd->add_option("--ref", ref, "tag to pick in an OCI layout holding several images");
  cmd->add_option("--creds", creds, "registry credentials USER:PASSWORD");
  cmd->add_option("--authfile", auth_file,
                  "registry auth file (default: $REGISTRY_AUTH_FILE, containers auth.json, "
                  "~/.docker/config.json)");
  cmd->add_option("--cert-dir", cert_dir,
                  "CA certificates (*.crt) and client certificates (*.cert, *.key) for the "
                  "registry (default: /etc/containers/certs.d/HOST, /etc/docker/certs.d/HOST)");
  cmd->add_option("--tls-verify", tls_verify,
                  "verify the registry's certificate; false also allows plain http")
      ->default_str("true");
  cmd->add_option("--concurrent-downloads", concurrent_downloads, "layers downloaded at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

std::unique_ptr<image::ImageSource> ImageArgs::Resolve() const {
  if (image.empty() == layers.empty()) {
    Check(Status::InvalidArgument("give either IMAGE or --layer files, not both or neither"));
  }
  if (!layers.empty()) return nullptr;
  image::OpenOptions open;
  open.platform = Check(image::ParsePlatform(platform));
  open.ref = ref;
  if (!creds.empty()) open.registry.creds = Check(image::ParseCredentialsFlag(creds));
  open.registry.auth_file = auth_file;
  open.registry.cert_dir = cert_dir;
  open.registry.tls_verify = tls_verify;
  open.registry.concurrent_downloads = concurrent_downloads;
  return Check(image::ResolveImage(image, open));
}

image::Image ImageArgs::Open(image::ImageSource* source) const {
  if (source == nullptr) return Check(image::OpenLayerTarballs(layers));
  return Check(source->Open());
}

void FlattenArgs::Add(CLI::App* cmd) {
  cmd->add_option("--headroom", headroom, "free space left in the filesystem for writes")
      ->capture_default_str();
  cmd->add_option("--max-size", max_size,
                  "refuse images whose layers uncompress to more than this (bomb guard)")
      ->capture_default_str();
}

flatten::FlattenOptions FlattenArgs::Options() const {
  flatten::FlattenOptions o;
  o.headroom_bytes = Check(ParseSize(headroom));
  o.max_tar_bytes = Check(ParseSize(max_size));
  return o;
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
  cmd->add_option("--keyd", keyd,
                  "the key daemon, used instead of a key directory: its socket, or "
                  "tls://HOST:PORT?ca=FILE&cert=FILE&key=FILE; default $LODE_KEYD");
}

std::unique_ptr<keys::KeyService> KeysArgs::Open() const {
  std::string address = keys::KeydAddress(keyd);
  if (address.empty()) {
    return Check(keys::OpenLocalKeyService(dir.empty() ? keys::DefaultKeyDir() : dir));
  }
  if (!dir.empty())
    throw CommandFailed(Status::InvalidArgument("--keys and --keyd exclude each other"));
  return keys::KeydKeyService(Check(keys::KeydClient::Create(address)));
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

flatten::ProgressFn FlattenProgressReporter(ProgressLine& line, const std::string& verb,
                                            const image::Image& img) {
  return [&line, verb, downloaded = img.bytes_downloaded](const flatten::FlattenProgress& p) {
    std::string fetched = downloaded ? FormatSize(downloaded()) + " downloaded, " : "";
    line.Update(verb + ": layer " + std::to_string(p.layer) + "/" + std::to_string(p.layers) +
                ", " + fetched + FormatSize(p.tar_bytes) + " read, " + std::to_string(p.entries) +
                " entries");
  };
}

// "90s", "30m", "12h", "7d" (a bare number is seconds).
int64_t ParseDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string unit = text.substr(digits);
  int64_t scale = unit.empty() || unit == "s" ? 1
                  : unit == "m"               ? 60
                  : unit == "h"               ? 3600
                  : unit == "d"               ? 86400
                                              : 0;
  if (digits == 0 || digits > 12 || scale == 0) {
    Check(Status::InvalidArgument("bad duration '" + text + "' (want e.g. 90s, 30m, 12h, 7d)"));
  }
  return std::stoll(text.substr(0, digits)) * scale;
}

namespace {

int stop_event = -1;

void OnStopSignal(int signal) {
  uint64_t n = static_cast<uint64_t>(signal);
  (void)!::write(stop_event, &n, sizeof(n));
}

}  // namespace

int AwaitStopSignal() {
  stop_event = ::eventfd(0, EFD_CLOEXEC);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  uint64_t signal = 0;
  while (::read(stop_event, &signal, sizeof(signal)) < 0 && errno == EINTR) {
  }
  return static_cast<int>(signal);
}

}  // namespace lode::cli
