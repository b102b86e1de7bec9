// lode key create|list|export-public: the embedded key service.
#include <sodium.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
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

  auto scope = std::make_shared<std::pair<std::string, std::string>>("root-0", "default");
  CLI::App* rotate =
      key->add_subcommand("rotate-salt", "Start a new salt epoch for a root and domain");
  rotate->add_option("--root", scope->first, "root")->capture_default_str();
  rotate->add_option("--domain", scope->second, "salt placement domain")->capture_default_str();
  rotate->callback([keys, scope] {
    uint32_t epoch = Check(keys->Open()->RotateSalt(scope->first, scope->second));
    std::printf("salt %s.%s is now at epoch %u\n", scope->first.c_str(), scope->second.c_str(),
                epoch);
  });

  CLI::App* exp = key->add_subcommand("export-public", "Print a tenant's public key (hex)");
  exp->add_option("tenant", *tenant, "tenant name")->required();
  exp->callback([keys, tenant] {
    std::printf("%s\n", ToHex(Check(keys->Open()->TenantPublicKey(*tenant))).c_str());
  });
}

}  // namespace lode::cli
