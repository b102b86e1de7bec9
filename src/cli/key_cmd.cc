// lode key create|list|export-public: the embedded key service.
#include <sodium.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "store/roots.h"
#include "util/sha256.h"

namespace lode::cli {

void RegisterKey(CLI::App& app) {
  auto keys = std::make_shared<KeysArgs>();
  auto tenant = std::make_shared<std::string>();
  CLI::App* key = app.add_subcommand("key", "Manage tenant keys in the local key service");
  key->require_subcommand(1);
  keys->Add(key);

  CLI::App* create = key->add_subcommand("create", "Create a tenant's key pair");
  create->add_option("tenant", *tenant, "tenant name")->required();
  create->callback([keys, tenant] {
    keys::PublicKey pub = Check(keys->Open()->CreateTenant(*tenant));
    std::printf("created tenant %s (public key %s)\n", tenant->c_str(), ToHex(pub).c_str());
  });

  CLI::App* list = key->add_subcommand("list", "List tenants");
  list->callback([keys] {
    for (const std::string& t : Check(keys->Open()->ListTenants())) std::printf("%s\n", t.c_str());
  });

  struct RotateArgs {
    StoreArgs store;
    std::string root, domain = "default";
  };
  auto r = std::make_shared<RotateArgs>();
  CLI::App* rotate =
      key->add_subcommand("rotate-salt", "Start a new salt epoch for a root and domain");
  rotate->add_option("--root", r->root, "root (default: the store's newest active root)");
  rotate->add_option("--domain", r->domain, "salt placement domain")->capture_default_str();
  r->store.Add(rotate);
  rotate->callback([keys, r] {
    std::string root = r->root.empty() ? Check(store::PushRoot(*r->store.Open(), "")).id : r->root;
    uint32_t epoch = Check(keys->Open()->RotateSalt(root, r->domain));
    std::printf("salt %s.%s is now at epoch %u\n", root.c_str(), r->domain.c_str(), epoch);
  });

  CLI::App* exp = key->add_subcommand("export-public", "Print a tenant's public key (hex)");
  exp->add_option("tenant", *tenant, "tenant name")->required();
  exp->callback([keys, tenant] {
    std::printf("%s\n", ToHex(Check(keys->Open()->TenantPublicKey(*tenant))).c_str());
  });
}

}  // namespace lode::cli
