// lode flatten: an OCI image (layout directory, docker-archive tarball, or
// plain layer tarballs) to a deterministic ext4 image plus its run config.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "flatten/flatten.h"
#include "util/size.h"

namespace lode::cli {
namespace {

struct FlattenCmdArgs {
  ImageArgs input;
  std::string output;
  FlattenArgs flatten;
  bool json = false;
};

nlohmann::json RunConfigJson(const image::Image& img, const image::ImageSource* source,
                             const flatten::FlattenResult& r) {
  nlohmann::json j = nlohmann::json::parse(image::RunConfigToJson(img.run_config));
  j["config_digest"] = img.config_digest ? img.config_digest->ToString() : "";
  if (source != nullptr && source->manifest_digest()) {
    j["image_digest"] = source->manifest_digest()->ToString();
  }
  std::vector<std::string> diff_ids;
  for (const auto& d : r.diff_ids) diff_ids.push_back(d.ToString());
  j["diff_ids"] = diff_ids;
  j["image_bytes"] = r.image_bytes;
  return j;
}

void Run(const FlattenCmdArgs& args) {
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<image::ImageSource> source = args.input.Resolve();
  image::Image img = args.input.Open(source.get());
  flatten::FlattenOptions options = args.flatten.Options();
  std::string config_path = args.output + ".config.json";
  auto sink = Check(flatten::NewFileSink(args.output));
  ProgressLine progress;
  auto report = FlattenProgressReporter(progress, "flatten", img);
  flatten::FlattenResult r = Check(flatten::Flatten(img, options, sink.get(), report));
  Status config_written =
      WriteFileAtomically(config_path, RunConfigJson(img, source.get(), r).dump(2) + "\n");
  if (!config_written.ok()) {
    std::remove(args.output.c_str());
    Check(config_written);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.json) {
    nlohmann::json j = {{"output", args.output},
                        {"config", config_path},
                        {"image_bytes", r.image_bytes},
                        {"metadata_bytes", r.metadata_bytes},
                        {"data_bytes", r.data_bytes},
                        {"tar_bytes", r.tar_bytes},
                        {"inodes", r.inodes},
                        {"layers", img.layers.size()},
                        {"entries", r.tree.entries},
                        {"hidden_entries", r.tree.hidden},
                        {"seconds", seconds}};
    if (source != nullptr && source->manifest_digest()) {
      j["image_digest"] = source->manifest_digest()->ToString();
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: ext4 image of %s (metadata %s, data %s), %u inodes\n", args.output.c_str(),
              FormatSize(r.image_bytes).c_str(), FormatSize(r.metadata_bytes).c_str(),
              FormatSize(r.data_bytes).c_str(), r.inodes);
  std::printf("from %zu layers, %s of tar, %llu entries (%llu hidden by upper layers) in %.2f s\n",
              img.layers.size(), FormatSize(r.tar_bytes).c_str(),
              static_cast<unsigned long long>(r.tree.entries),
              static_cast<unsigned long long>(r.tree.hidden), seconds);
  std::printf("run config: %s\n", config_path.c_str());
}

}  // namespace

void RegisterFlatten(CLI::App& app) {
  auto args = std::make_shared<FlattenCmdArgs>();
  CLI::App* cmd =
      app.add_subcommand("flatten", "Turn an OCI image into a deterministic ext4 image");
  args->input.Add(cmd);
  cmd->add_option("-o,--output", args->output,
                  "ext4 image to write (the run config goes to OUTPUT.config.json)")
      ->required();
  args->flatten.Add(cmd);
  cmd->add_flag("--json", args->json, "print one JSON object instead of text");
  cmd->callback([args] { Run(*args); });
}

}  // namespace lode::cli
