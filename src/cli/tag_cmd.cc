// lode tag REF NAME and lode ls: a tenant's named images.
#include <cstdio>

#include "catalog/catalog.h"
#include "catalog/chains.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "push/export.h"

namespace lode::cli {

void RegisterTag(CLI::App& app) {
  struct Args {
    StoreArgs store;
    std::string tenant, ref, name;
  };
  auto a = std::make_shared<Args>();
  CLI::App* tag = app.add_subcommand("tag", "Name a pushed image for a tenant");
  tag->add_option("ref", a->ref, "ROOT/MANIFEST-ID or an existing tag")->required();
  tag->add_option("name", a->name, "new tag")->required();
  tag->add_option("--tenant", a->tenant, "tenant owning the tag")->required();
  a->store.Add(tag);
  tag->callback([a] {
    auto store = a->store.Open();
    store::ImageRef ref = Check(catalog::ResolveRef(*store, a->tenant, a->ref));
    Check(catalog::SetTag(*store, a->tenant, a->name, ref));
    std::printf("%s -> %s\n", a->name.c_str(), ref.ToString().c_str());
  });

  auto u = std::make_shared<Args>();
  CLI::App* untag = app.add_subcommand("untag", "Remove a tenant's tag (the image goes with gc)");
  untag->add_option("name", u->name, "tag")->required();
  untag->add_option("--tenant", u->tenant, "tenant owning the tag")->required();
  u->store.Add(untag);
  untag->callback([u] {
    Check(catalog::DeleteTag(*u->store.Open(), u->tenant, u->name));
    std::printf("untagged %s\n", u->name.c_str());
  });

  auto l = std::make_shared<Args>();
  auto all = std::make_shared<bool>(false);
  CLI::App* ls = app.add_subcommand("ls", "List a tenant's tagged images");
  ls->add_option("--tenant", l->tenant, "tenant")->required();
  ls->add_flag("--all", *all,
               "also the chain.<hex> tags push writes (layer chain IDs, for containerd)");
  l->store.Add(ls);
  ls->callback([l, all] {
    auto store = l->store.Open();
    for (const auto& [name, ref] : Check(catalog::ListTags(*store, l->tenant))) {
      if (!*all && name.starts_with(catalog::kChainTagPrefix)) continue;
      std::printf("%s\t%s\n", name.c_str(), ref.ToString().c_str());
    }
  });
}

}  // namespace lode::cli
