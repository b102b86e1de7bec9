// lode push: flatten, chunk, encrypt and upload an image; print its reference.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "catalog/catalog.h"
#include "catalog/chains.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "push/export.h"
#include "push/push.h"
#include "util/size.h"

namespace lode::cli {
namespace {

struct PushArgs {
  ImageArgs input;
  StoreArgs store;
  KeysArgs keys;
  std::string tenant;
  std::string chunk_size = "512KiB";
  std::string compress = "zstd";
  std::string salt_domain = "default";
  std::string root;
  std::string tag;
  FlattenArgs flatten;
  bool json = false;
};

// A registry image pushed before (same digest, tenant, root and options)
// is not downloaded again.
std::optional<push::PushResult> EarlierPush(const image::ImageSource* source,
                                            const push::PushOptions& o, keys::KeyService& keys,
                                            store::ObjectStore& store) {
  if (source == nullptr || !source->remote()) return std::nullopt;
  return Check(push::FindEarlierPush(*source->manifest_digest(), o, keys, store));
}

void Print(const push::PushResult& r, const image::ImageSource* source, bool json) {
  if (json) {
    nlohmann::json j = {{"ref", r.ref.ToString()},
                        {"image_bytes", r.image_bytes},
                        {"chunks_total", r.chunks_total},
                        {"chunks_holes", r.chunks_holes},
                        {"chunks_existing", r.chunks_existing},
                        {"chunks_new", r.chunks_new},
                        {"bytes_uploaded", r.bytes_uploaded},
                        {"reused", r.reused}};
    if (source != nullptr && source->manifest_digest()) {
      j["image_digest"] = source->manifest_digest()->ToString();
      if (source->index_digest()) j["index_digest"] = source->index_digest()->ToString();
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s\n", r.ref.ToString().c_str());
  if (r.reused) {
    std::printf("pushed before from %s: nothing downloaded\n",
                source->manifest_digest()->ToString().c_str());
    return;
  }
  std::printf("chunks: %llu total, %llu holes, %llu already stored, %llu new; %s uploaded\n",
              static_cast<unsigned long long>(r.chunks_total),
              static_cast<unsigned long long>(r.chunks_holes),
              static_cast<unsigned long long>(r.chunks_existing),
              static_cast<unsigned long long>(r.chunks_new), FormatSize(r.bytes_uploaded).c_str());
}

void Run(const PushArgs& a) {
  push::PushOptions o;
  o.tenant = a.tenant;
  o.salt_domain = a.salt_domain;
  o.root = a.root;
  uint64_t cs = Check(ParseSize(a.chunk_size));
  if (cs > (64u << 20)) Check(Status::InvalidArgument("chunk size above 64 MiB"));
  o.chunk_size = static_cast<uint32_t>(cs);
  if (a.compress != "zstd" && a.compress != "none")
    Check(Status::InvalidArgument("--compress is zstd or none"));
  o.compress = a.compress == "zstd";
  o.flatten = a.flatten.Options();
  auto keys = a.keys.Open();
  auto store = a.store.Open();
  std::unique_ptr<image::ImageSource> source = a.input.Resolve();
  std::optional<push::PushResult> r = EarlierPush(source.get(), o, *keys, *store);
  if (!r) {
    image::Image img = a.input.Open(source.get());
    ProgressLine progress;
    r = Check(push::Push(img, o, *keys, *store, FlattenProgressReporter(progress, "push", img)));
    // The image is pushed whether or not the record lands: without it the
    // next push of the same image downloads it again, nothing worse.
    if (source != nullptr && source->remote()) {
      Status recorded = push::RecordPush(*source->manifest_digest(), o, *r, *keys, *store);
      if (!recorded.ok()) {
        std::fprintf(stderr, "lode: warning: %s\n", recorded.ToString().c_str());
      }
    }
  }
  if (!a.tag.empty()) Check(catalog::SetTag(*store, a.tenant, a.tag, r->ref));
  if (!r->chain_id.empty()) {
    Check(catalog::SetTag(*store, a.tenant, catalog::ChainTag(r->chain_id), r->ref));
  }
  Print(*r, source.get(), a.json);
}

}  // namespace

void RegisterPush(CLI::App& app) {
  auto a = std::make_shared<PushArgs>();
  CLI::App* cmd = app.add_subcommand("push", "Flatten an image into chunks in an object store");
  a->input.Add(cmd);
  a->store.Add(cmd);
  a->keys.Add(cmd);
  cmd->add_option("--tenant", a->tenant, "tenant the manifest is sealed to")->required();
  cmd->add_option("--chunk-size", a->chunk_size, "chunk size, a power of two")
      ->capture_default_str();
  cmd->add_option("--compress", a->compress, "zstd or none")->capture_default_str();
  cmd->add_option("--salt-domain", a->salt_domain, "salt policy placement domain")
      ->capture_default_str();
  cmd->add_option("--root", a->root, "active root to push to (default: the newest active root)");
  cmd->add_option("--tag", a->tag, "also name the image (lode tag)");
  a->flatten.Add(cmd);
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a] { Run(*a); });
}

}  // namespace lode::cli
