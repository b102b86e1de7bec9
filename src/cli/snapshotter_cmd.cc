// lode snapshotter: containerd's snapshots API as a proxy plugin
// (docs/containerd.md shows containerd's configuration).
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "snapshotter/service.h"
#include "snapshotter/snapshotter.h"

namespace lode::cli {
namespace {

struct SnapshotterArgs {
  std::string root = "/var/lib/lode/snapshotter";
  std::string socket = "/run/lode/snapshotter.sock";
};

void RunSnapshotter(const SnapshotterArgs& a) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(a.socket).parent_path(), ec);
  auto snapshotter = Check(snapshotter::Snapshotter::Open(a.root));
  auto server = Check(snapshotter::SnapshotsServer::Start(*snapshotter, a.socket));
  std::fprintf(stderr, "lode snapshotter: serving on %s\n", a.socket.c_str());
  AwaitStopSignal();
  server.reset();
  std::fprintf(stderr, "lode snapshotter: stopped\n");
}

}  // namespace

void RegisterSnapshotter(CLI::App& app) {
  auto a = std::make_shared<SnapshotterArgs>();
  CLI::App* cmd = app.add_subcommand(
      "snapshotter",
      "containerd's snapshots API on a Unix socket (a proxy plugin: [proxy_plugins.lode] "
      "type = \"snapshot\"): overlay snapshots on --root");
  cmd->add_option("--root", a->root, "where snapshots and their metadata live")
      ->capture_default_str();
  cmd->add_option("--socket", a->socket, "Unix socket containerd connects to (created 0600)")
      ->capture_default_str();
  cmd->callback([a] { RunSnapshotter(*a); });
}

}  // namespace lode::cli
