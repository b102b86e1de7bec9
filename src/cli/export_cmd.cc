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
    PushedImageArgs image;
    std::string output;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("export", "Rebuild a pushed image from its chunks, verifying each");
  a->image.Add(cmd);
  cmd->add_option("-o,--output", a->output, "file to write")->required();
  cmd->callback([a] {
    PushedImage p = OpenPushedImage(a->image);
    push::ExportResult r = Check(push::Export(*p.store, p.manifest, a->output));
    std::printf("%s: %s from %llu chunks (%llu holes)\n", a->output.c_str(),
                FormatSize(r.image_bytes).c_str(), static_cast<unsigned long long>(r.chunks_read),
                static_cast<unsigned long long>(r.holes));
  });
}

}  // namespace lode::cli
