// lode snapshotter: containerd's snapshots API as a proxy plugin
// (docs/containerd.md shows containerd's configuration).
#include <cstdio>
#include <filesystem>

#include "cli/agent_client.h"
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
  std::vector<std::string> tenants;
  std::string agent_socket;
  StoreArgs store;
  KeysArgs keys;
};

void RunSnapshotter(const SnapshotterArgs& a) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(a.socket).parent_path(), ec);
  std::unique_ptr<snapshotter::RemoteImages> remote;
  if (!a.tenants.empty()) {
    snapshotter::LodeRemoteOptions options;
    options.tenants = a.tenants;
    options.agent_socket = a.agent_socket.empty() ? DefaultAgentSocket() : a.agent_socket;
    remote = std::make_unique<snapshotter::LodeRemote>(a.store.Open(), a.keys.Open(), options);
  }
  auto snapshotter = Check(snapshotter::Snapshotter::Open(a.root, std::move(remote)));
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
      "type = \"snapshot\"): lode images of --tenant as remote snapshots read on demand "
      "through the agent, overlay snapshots on --root for every other image");
  cmd->set_config("--config", "", "a TOML file of these options (option = value per line)");
  cmd->add_option("--root", a->root, "where snapshots and their metadata live")
      ->capture_default_str();
  cmd->add_option("--socket", a->socket, "Unix socket containerd connects to (created 0600)")
      ->capture_default_str();
  cmd->add_option("--tenant", a->tenants,
                  "whose lode images containerd may start lazily (repeat for several; none: "
                  "overlay snapshots only)");
  cmd->add_option("--agent-socket", a->agent_socket,
                  "the agent that serves the images (default: $LODE_AGENT_SOCKET or "
                  "/run/lode/agent.sock)");
  a->store.Add(cmd);
  a->keys.Add(cmd);
  cmd->callback([a] { RunSnapshotter(*a); });
}

}  // namespace lode::cli
