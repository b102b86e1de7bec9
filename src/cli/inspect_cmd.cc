// lode inspect REF: a manifest's header and chunk table summary.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "catalog/profile.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "push/export.h"
#include "sim/trace_files.h"
#include "util/sha256.h"
#include "util/size.h"

namespace lode::cli {
namespace {

// The store object of each chunk ("" for a hole): where an operator looks
// for the bytes of a given offset.
std::vector<std::string> ChunkNames(const manifest::Manifest& m) {
  std::vector<std::string> names;
  for (const manifest::ChunkEntry& e : m.chunks) names.push_back(e.hole() ? "" : ToHex(e.name));
  return names;
}

// The image as lode sim's images.jsonl has it, under the name it was asked
// for: its stored chunks and the
// chunks its startup profile reads, in order, each named by the first 8
// bytes of its object name (so images sharing chunks share ids).
std::string SimImageLine(const manifest::Manifest& m, const std::string& name,
                         const catalog::StartupProfile& profile, uint64_t holes) {
  auto id = [](const manifest::ChunkEntry& e) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = v << 8 | e.name[i];
    return v;
  };
  sim::Image image{name, m.chunks.size() - holes, {}};
  for (uint32_t index : profile.chunks) {
    const manifest::ChunkEntry& e = m.chunks[index];
    if (!e.hole()) image.start_set.push_back(id(e));  // a hole costs no read
  }
  return sim::ImageLine(image);
}

}  // namespace

void RegisterInspect(CLI::App& app) {
  struct Args {
    PushedImageArgs image;
    bool json = false, chunks = false, sim_image = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a pushed image's manifest");
  a->image.Add(cmd);
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_flag("--chunks", a->chunks,
                "also list every chunk's object name (\"\" for a hole), in order");
  cmd->add_flag("--sim-image", a->sim_image,
                "print the image as a line of lode sim's images.jsonl: its startup profile "
                "as the start set (start it once through an agent first)");
  cmd->callback([a] {
    PushedImage p = OpenPushedImage(a->image);
    const manifest::Manifest& m = p.manifest;
    const store::ImageRef& ref = p.ref;
    push::ManifestSummary s = Check(push::Summarize(*p.store, m, ref, *p.keys, a->image.tenant));
    // A profile that cannot be opened is reported, not fatal: agents ignore it too.
    Result<std::optional<catalog::StartupProfile>> profile =
        catalog::GetProfile(*p.store, ref, m.chunks.size(), *p.keys, a->image.tenant);
    nlohmann::json profile_chunks = nullptr;
    std::string profile_text = "none";
    if (!profile.ok()) {
      profile_text = "unreadable (" + profile.status().ToString() + ")";
    } else if (*profile) {
      profile_chunks = (*profile)->chunks.size();
      profile_text = std::to_string((*profile)->chunks.size()) + " chunks";
    }
    if (a->sim_image) {
      if (!profile.ok() || !*profile) {
        Check(Status::FailedPrecondition("the image has no readable startup profile (" +
                                         profile_text + "): start it once through an agent first"));
      }
      std::printf("%s\n", SimImageLine(m, a->image.ref, **profile, s.holes).c_str());
      return;
    }
    if (a->json) {
      nlohmann::json j = {{"ref", ref.ToString()},
                          {"fs_size", m.fs_size},
                          {"chunk_size", m.chunk_size},
                          {"config_digest", "sha256:" + ToHex(m.config_digest)},
                          {"salt_id", m.salt_id},
                          {"root", m.root_id},
                          {"run_config", nlohmann::json::parse(m.image_config)},
                          {"chunks", m.chunks.size()},
                          {"holes", s.holes},
                          {"compressed", s.compressed},
                          {"stored_bytes", s.stored_bytes},
                          {"shared_with_other_images", s.shared},
                          {"other_manifests_opened", s.other_manifests_opened},
                          {"profile_chunks", profile_chunks}};
      if (a->chunks) j["chunk_names"] = ChunkNames(m);
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("ref:          %s\n", ref.ToString().c_str());
    std::printf("filesystem:   %s in %zu chunks of %s\n", FormatSize(m.fs_size).c_str(),
                m.chunks.size(), FormatSize(m.chunk_size).c_str());
    std::printf("config:       sha256:%s\n", ToHex(m.config_digest).c_str());
    std::printf("salt:         %s\n", m.salt_id.c_str());
    std::printf("run config:   %s\n", m.image_config.c_str());
    std::printf("chunks:       %llu stored (%llu compressed, %s), %llu holes\n",
                static_cast<unsigned long long>(m.chunks.size() - s.holes),
                static_cast<unsigned long long>(s.compressed), FormatSize(s.stored_bytes).c_str(),
                static_cast<unsigned long long>(s.holes));
    std::printf("shared:       %llu chunks also named by %llu other images of this tenant in %s\n",
                static_cast<unsigned long long>(s.shared),
                static_cast<unsigned long long>(s.other_manifests_opened), m.root_id.c_str());
    std::printf("profile:      %s\n", profile_text.c_str());
    if (!a->chunks) return;
    std::vector<std::string> names = ChunkNames(m);
    for (size_t i = 0; i < names.size(); ++i) {
      std::printf("chunk %zu:%s%s\n", i, names[i].empty() ? " hole" : " ", names[i].c_str());
    }
  });
}

}  // namespace lode::cli
