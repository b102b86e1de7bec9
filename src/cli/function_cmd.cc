// lode function create|update|ls|rm: a tenant's functions (an image and
// Lambda's configuration), sealed to the tenant in the store.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/function.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "util/size.h"

namespace lode::cli {
namespace {

using nlohmann::json;

struct FunctionArgs {
  StoreArgs store;
  KeysArgs keys;
  std::string name, tenant, image, handler, network, sandbox;
  uint32_t memory_mib = 128, timeout_seconds = 3, concurrency = 0;
  std::vector<std::string> env;
  bool json_output = false, snapstart = false;
  // Options given on the command line (update changes only those).
  CLI::Option *image_opt = nullptr, *handler_opt = nullptr, *memory_opt = nullptr,
              *timeout_opt = nullptr, *env_opt = nullptr, *network_opt = nullptr,
              *concurrency_opt = nullptr, *snapstart_opt = nullptr;
};

void AddConfigOptions(CLI::App* cmd, FunctionArgs& a) {
  a.handler_opt = cmd->add_option("--handler", a.handler,
                                  "replaces the image's cmd (the runtime's handler, e.g. "
                                  "index.handler)");
  a.memory_opt = cmd->add_option("--memory", a.memory_mib, "memory in MiB, the sandbox's limit")
                     ->capture_default_str()
                     ->check(CLI::Range(128, 10240));
  a.timeout_opt = cmd->add_option("--timeout", a.timeout_seconds, "seconds an invocation may run")
                      ->capture_default_str()
                      ->check(CLI::Range(1, 900));
  a.env_opt = cmd->add_option("--env", a.env, "K=V: an environment variable (repeatable)");
  a.network_opt =
      cmd->add_option("--network", a.network, "default (outbound network, as in Lambda) or none")
          ->check(CLI::IsMember({"default", "none"}));
  cmd->add_option("--sandbox", a.sandbox,
                  "container (crun), or vm: each sandbox a microVM of the image, as Lambda "
                  "runs functions")
      ->check(CLI::IsMember({"container", "vm"}));
  cmd->add_flag_callback(
      "--vm", [&a] { a.sandbox = "vm"; }, "the same as --sandbox vm");
  a.snapstart_opt = cmd->add_flag("--snapstart,!--no-snapstart", a.snapstart,
                                  "with --vm: cold starts restore the snapshot `lode function "
                                  "publish` takes after the runtime's initialization");
  a.concurrency_opt = cmd->add_option("--concurrency", a.concurrency,
                                      "most sandboxes of the function on one host (0: the "
                                      "host's limit)");
  cmd->add_flag("--json", a.json_output, "print the function as JSON");
  a.store.Add(cmd);
  a.keys.Add(cmd);
}

std::map<std::string, std::string> ParseEnv(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const std::string& e : env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0) {
      Check(Status::InvalidArgument("--env wants KEY=VALUE, not '" + e + "'"));
    }
    out[e.substr(0, eq)] = e.substr(eq + 1);
  }
  return out;
}

void Apply(const FunctionArgs& a, catalog::FunctionConfig& f) {
  if (a.handler_opt->count()) f.handler = a.handler;
  if (a.memory_opt->count()) f.memory_mib = a.memory_mib;
  if (a.timeout_opt->count()) f.timeout_seconds = a.timeout_seconds;
  if (a.env_opt->count()) f.environment = ParseEnv(a.env);
  if (a.network_opt->count()) f.network = a.network;
  if (a.concurrency_opt->count()) f.concurrency = a.concurrency;
  if (!a.sandbox.empty()) f.sandbox = a.sandbox;
  if (a.snapstart_opt->count()) f.snapstart = a.snapstart;
}

json Describe(const catalog::FunctionConfig& f, const std::string& image_ref) {
  json j = json::parse(catalog::EncodeFunction(f));
  j.erase("format");
  j["image_ref"] = image_ref;
  return j;
}

void Print(const catalog::FunctionConfig& f, const std::string& image_ref, bool as_json,
           const char* verb) {
  if (as_json) {
    std::printf("%s\n", Describe(f, image_ref).dump(2).c_str());
    return;
  }
  std::printf("%s %s: image %s (%s), memory %u MiB, timeout %u s%s%s\n", verb, f.name.c_str(),
              f.image.c_str(), image_ref.c_str(), f.memory_mib, f.timeout_seconds,
              f.network == "none" ? ", no network" : "", f.sandbox == "vm" ? ", microVM" : "");
}

// Pins the function's image (its tag points at the resolved image; a
// file: image has none), then stores the function: a stored function
// always has its image pinned. `image` is what to resolve: the function's
// own image, or its pin when it keeps the pinned one.
std::string Save(store::ObjectStore& store, keys::KeyService& keys, catalog::FunctionConfig& f,
                 const std::string& image) {
  f.updated = static_cast<int64_t>(std::time(nullptr));
  Check(catalog::ValidateFunction(f));
  std::string tag = catalog::FunctionImageTag(f.name);
  std::string pinned = f.image;
  if (catalog::IsLocalImage(f.image)) {
    std::string path = f.image.substr(5);
    if (!std::filesystem::exists(path) || !std::filesystem::exists(path + ".config.json")) {
      Check(Status::NotFound(path + " and " + path +
                             ".config.json must exist (lode flatten -o PATH writes both)"));
    }
    Status untagged = catalog::DeleteTag(store, f.tenant, tag);
    if (untagged.code() != StatusCode::kNotFound) Check(untagged);
  } else {
    store::ImageRef ref = Check(catalog::ResolveRef(store, f.tenant, image));
    Check(catalog::SetTag(store, f.tenant, tag, ref));
    pinned = ref.ToString();
  }
  Check(catalog::PutFunction(store, keys, f));
  return pinned;
}

// The image a stored function runs: its pin, or its file.
std::string PinnedImage(store::ObjectStore& store, const catalog::FunctionConfig& f) {
  if (catalog::IsLocalImage(f.image)) return f.image;
  Result<store::ImageRef> ref =
      catalog::ResolveRef(store, f.tenant, catalog::FunctionImageTag(f.name));
  return ref.ok() ? ref->ToString() : "(no image: " + ref.status().message() + ")";
}

struct PublishedSnapshot {
  std::string ref;
  uint64_t bytes = 0;  // memory, device state and disk, as the snapshot's block file
};

// A SnapStart function's published snapshot, if any.
std::optional<PublishedSnapshot> SnapshotOf(store::ObjectStore& store, keys::KeyService& keys,
                                            const catalog::FunctionConfig& f) {
  if (!f.snapstart) return std::nullopt;
  Result<store::ImageRef> ref =
      catalog::ResolveRef(store, f.tenant, catalog::FunctionSnapshotTag(f.name));
  if (!ref.ok()) return std::nullopt;
  manifest::Manifest m = Check(catalog::OpenManifest(store, *ref, keys, f.tenant));
  return PublishedSnapshot{ref->ToString(), m.fs_size};
}

void Create(FunctionArgs& a) {
  auto store = a.store.Open();
  auto keys = a.keys.Open();
  Check(catalog::ValidateFunctionName(a.name));
  if (Check(catalog::GetFunction(*store, *keys, a.tenant, a.name))) {
    Check(Status::InvalidArgument("function " + a.name +
                                  " exists (lode function update changes it)"));
  }
  catalog::FunctionConfig f;
  f.name = a.name;
  f.tenant = a.tenant;
  f.image = a.image;
  Apply(a, f);
  Print(f, Save(*store, *keys, f, a.image), a.json_output, "created");
}

catalog::FunctionConfig Existing(store::ObjectStore& store, keys::KeyService& keys,
                                 const std::string& tenant, const std::string& name) {
  std::optional<catalog::FunctionConfig> f = Check(catalog::GetFunction(store, keys, tenant, name));
  if (!f) Check(Status::NotFound("no function " + name + " for tenant " + tenant));
  return *f;
}

void Update(FunctionArgs& a) {
  auto store = a.store.Open();
  auto keys = a.keys.Open();
  catalog::FunctionConfig f = Existing(*store, *keys, a.tenant, a.name);
  Apply(a, f);
  if (a.image_opt->count()) f.image = a.image;
  // A new --image is resolved now; without one the function keeps the
  // image it was pinned to.
  std::string image = a.image_opt->count() ? a.image : catalog::FunctionImageTag(f.name);
  std::string pinned = Save(*store, *keys, f, image);
  // A snapshot is of the function as it was: publish again.
  Check(catalog::UnpublishFunction(*store, a.tenant, a.name));
  Print(f, pinned, a.json_output, "updated");
}

void List(FunctionArgs& a) {
  auto store = a.store.Open();
  auto keys = a.keys.Open();
  json all = json::array();
  for (const std::string& name : Check(catalog::ListFunctions(*store, a.tenant))) {
    catalog::FunctionConfig f = Existing(*store, *keys, a.tenant, name);
    std::string image_ref = PinnedImage(*store, f);
    std::optional<PublishedSnapshot> snapshot = SnapshotOf(*store, *keys, f);
    if (a.json_output) {
      json j = Describe(f, image_ref);
      if (snapshot) j["snapshot"] = {{"ref", snapshot->ref}, {"bytes", snapshot->bytes}};
      all.push_back(j);
    } else {
      std::string snap =
          !f.snapstart ? ""
          : snapshot   ? "\tsnapshot " + snapshot->ref + " (" + FormatSize(snapshot->bytes) + ")"
                       : "\tnot published";
      std::printf("%s\t%s\t%s\t%u MiB\t%u s\t%s\t%s%s\n", f.name.c_str(), f.image.c_str(),
                  image_ref.c_str(), f.memory_mib, f.timeout_seconds, f.network.c_str(),
                  f.sandbox.c_str(), snap.c_str());
    }
  }
  if (a.json_output) std::printf("%s\n", all.dump(2).c_str());
}

}  // namespace

void RegisterFunction(CLI::App& app) {
  CLI::App* fn = app.add_subcommand("function", "Create, change, list and remove functions");
  fn->require_subcommand(1);

  auto c = std::make_shared<FunctionArgs>();
  CLI::App* create =
      fn->add_subcommand("create", "Create a function: an image and its configuration");
  create->add_option("name", c->name, "function name (letters, digits, - and _)")->required();
  c->image_opt = create->add_option("--image", c->image, "ROOT/MANIFEST-ID or a tag of the tenant")
                     ->required();
  create->add_option("--tenant", c->tenant, "tenant owning the function")->required();
  AddConfigOptions(create, *c);
  create->callback([c] { Create(*c); });

  auto u = std::make_shared<FunctionArgs>();
  CLI::App* update = fn->add_subcommand(
      "update", "Change a function: what is given changes; --image pins another image");
  update->add_option("name", u->name, "function name")->required();
  u->image_opt = update->add_option("--image", u->image, "ROOT/MANIFEST-ID or a tag of the tenant");
  update->add_option("--tenant", u->tenant, "tenant owning the function")->required();
  AddConfigOptions(update, *u);
  update->callback([u] { Update(*u); });

  auto l = std::make_shared<FunctionArgs>();
  CLI::App* ls = fn->add_subcommand("ls", "List a tenant's functions");
  ls->add_option("--tenant", l->tenant, "tenant")->required();
  ls->add_flag("--json", l->json_output, "print them as JSON");
  l->store.Add(ls);
  l->keys.Add(ls);
  ls->callback([l] { List(*l); });

  auto r = std::make_shared<FunctionArgs>();
  CLI::App* rm =
      fn->add_subcommand("rm", "Remove a function (its image goes with gc unless tagged)");
  rm->add_option("name", r->name, "function name")->required();
  rm->add_option("--tenant", r->tenant, "tenant owning the function")->required();
  r->store.Add(rm);
  rm->callback([r] {
    Check(catalog::DeleteFunction(*r->store.Open(), r->tenant, r->name));
    std::printf("removed %s\n", r->name.c_str());
  });
  RegisterFunctionPublish(fn);
}

}  // namespace lode::cli
