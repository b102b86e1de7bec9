#include "agent/daemon.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include "agent/api.h"
#include "agent/block_fs.h"
#include "util/clock.h"

namespace lode::agent {
namespace {

constexpr int kLargestHeapBuffer = 4 << 20;

nlohmann::json Fail(const Status& s) {
  return {{"ok", false}, {"code", static_cast<int>(s.code())}, {"error", s.message()}};
}

}  // namespace

nlohmann::json HandleRequest(Agent& agent, const std::string& mountpoint,
                             const nlohmann::json& request) {
  std::string op = request.value("op", "");
  if (op == "ping") return {{"ok", true}, {"pid", ::getpid()}, {"mountpoint", mountpoint}};
  if (op == "attach") {
    Result<std::shared_ptr<Attachment>> a =
        agent.Attach(request.at("ref").get<std::string>(), request.value("tenant", ""),
                     request.value("writable", false), request.value("prefetch", true));
    if (!a.ok()) return Fail(a.status());
    nlohmann::json reply = AttachmentJson(**a);
    reply["ok"] = true;
    reply["path"] = mountpoint + "/" + (*a)->info().id;
    reply["config"] = (*a)->config_json();
    return reply;
  }
  if (op == "detach") {
    Result<std::string> kept =
        agent.Detach(request.at("id").get<std::string>(), request.value("keep", false));
    if (!kept.ok()) return Fail(kept.status());
    return {{"ok", true}, {"kept_overlay", *kept}};
  }
  if (op == "list") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : agent.List()) {
      nlohmann::json j = AttachmentJson(*a);
      j["path"] = mountpoint + "/" + a->info().id;
      list.push_back(j);
    }
    return {{"ok", true}, {"attachments", list}};
  }
  if (op == "stats") {
    nlohmann::json stats = agent.Stats();
    stats["ok"] = true;
    return stats;
  }
  return Fail(Status::InvalidArgument("unknown request '" + op + "'"));
}

Status RunDaemon(const DaemonOptions& options, std::unique_ptr<store::ObjectStore> store,
                 std::unique_ptr<keys::KeyService> keys, const std::function<void()>& ready) {
  // Chunk buffers (512 KiB) and FUSE replies (up to 1 MiB) come and go on
  // many threads. Served from few arenas (an mmap per buffer would cost page
  // faults on every read) and trimmed while idle, freed buffers do not pile
  // up: the agent's memory stays near its caches' budget.
  ::mallopt(M_MMAP_THRESHOLD, kLargestHeapBuffer);
  ::mallopt(M_ARENA_MAX, 2);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  AgentOptions agent_options = options.agent;
  agent_options.log = options.log;
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent,
                        Agent::Create(agent_options, std::move(store), std::move(keys)));
  Agent* a = agent.get();
  BlockFsHooks hooks{[a](const std::string& id) { return a->Find(id); }, [a] { return a->List(); },
                     options.log};
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<BlockFs> fs, BlockFs::Mount(options.mountpoint, hooks));
  LODE_ASSIGN_OR_RETURN(
      std::unique_ptr<ApiServer> api,
      ApiServer::Start(options.socket_path, [a, mp = options.mountpoint](const nlohmann::json& r) {
        return HandleRequest(*a, mp, r);
      }));
  ready();
  int signal = -1;
  timespec tick{1, 0};
  uint64_t reads_seen = 0;
  int64_t last_trim = MonotonicNanos(), last_follow = last_trim;
  const int64_t follow_ns = std::chrono::nanoseconds(options.agent.follow_interval).count();
  while (signal < 0) {
    signal = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal >= 0) break;
    int64_t now = MonotonicNanos();
    agent->SaveQuietProfiles();
    if (now - last_follow >= follow_ns) {
      agent->FollowMigrations();
      last_follow = now;
    }
    // Trimming locks the arenas: only when no block was read for a period.
    if (now - last_trim >= 2'000'000'000) {
      uint64_t reads = 0;
      for (const auto& attachment : agent->List()) reads += attachment->counters().reads.load();
      if (reads == reads_seen) ::malloc_trim(0);
      reads_seen = reads;
      last_trim = now;
    }
  }
  options.log(std::string("stopping on ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT"));
  api.reset();
  agent->DetachAll();
  fs.reset();
  return Status::Ok();
}

}  // namespace lode::agent
