// lode export REF -o FILE: rebuild the ext4 image from the store, verified.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "push/export.h"
#include "util/size.h"

namespace lode::cli {

void RegisterExport(CLI::App& app) {
  struct Args {
    StoreArgs store;
    KeysArgs keys;
    std::string tenant, ref, output;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("export", "Rebuild a pushed image from its chunks, verifying each");
  cmd->add_option("ref", a->ref, "ROOT/MANIFEST-ID or a tag")->required();
  cmd->add_option("-o,--output", a->output, "file to write")->required();
  cmd->add_option("--tenant", a->tenant, "tenant whose key opens the manifest")->required();
  a->store.Add(cmd);
  a->keys.Add(cmd);
  cmd->callback([a] {
    auto store = a->store.Open();
    auto keys = a->keys.Open();
    store::ImageRef ref = Check(push::ResolveRef(*store, a->tenant, a->ref));
    manifest::Manifest m = Check(push::OpenManifest(*store, ref, *keys, a->tenant));
    push::ExportResult r = Check(push::Export(*store, m, a->output));
    std::printf("%s: %s from %llu chunks (%llu holes)\n", a->output.c_str(),
                FormatSize(r.image_bytes).c_str(), static_cast<unsigned long long>(r.chunks_read),
                static_cast<unsigned long long>(r.holes));
  });
}

}  // namespace lode::cli
