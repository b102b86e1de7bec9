#include "agent/daemon.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "agent/api.h"
#include "agent/block_fs.h"
#include "agent/metrics.h"
#include "fuse/holder.h"
#include "fuse/wire.h"
#include "util/clock.h"
#include "util/file.h"

namespace lode::agent {
namespace {

constexpr int kLargestHeapBuffer = 4 << 20;

nlohmann::json Fail(const Status& s) {
  return {{"ok", false}, {"code", static_cast<int>(s.code())}, {"error", s.message()}};
}

// What an attachment did with the chunks of each named part of its stored
// image ({"name", "offset", "bytes"}; ranges of one name are summed): a
// snapshot's memory, device state, disk.
nlohmann::json RegionsReply(Agent& agent, const nlohmann::json& request) {
  std::shared_ptr<Attachment> a = agent.Find(request.value("id", ""));
  if (!a) return Fail(Status::NotFound("no attachment " + request.value("id", "")));
  std::vector<std::string> names;
  std::map<std::string, RangeUse> uses;
  for (const nlohmann::json& r : request.value("regions", nlohmann::json::array())) {
    std::string name = r.value("name", "");
    RangeUse u = a->UseOf(r.value("offset", uint64_t{0}), r.value("bytes", uint64_t{0}));
    auto [it, added] = uses.try_emplace(name);
    if (added) names.push_back(name);
    it->second += u;
  }
  nlohmann::json regions = nlohmann::json::array();
  for (const std::string& name : names) {
    const RangeUse& u = uses[name];
    regions.push_back({{"name", name},
                       {"chunks_stored", u.chunks_stored},
                       {"chunks_read", u.chunks_read},
                       {"chunks_prefetched", u.chunks_prefetched},
                       {"chunks_loaded", u.chunks_loaded},
                       {"chunks_fetched", u.chunks_fetched},
                       {"fetched_bytes", u.fetched_bytes}});
  }
  return {{"ok", true}, {"regions", regions}};
}

// The pages of a byte range of the block file read since the attach.
nlohmann::json PagesReply(Agent& agent, const nlohmann::json& request) {
  std::shared_ptr<Attachment> a = agent.Find(request.value("id", ""));
  if (!a) return Fail(Status::NotFound("no attachment " + request.value("id", "")));
  nlohmann::json runs = nlohmann::json::array();
  for (auto [page, count] :
       a->PagesRead(request.value("offset", uint64_t{0}), request.value("bytes", uint64_t{0}))) {
    runs.push_back({page, count});
  }
  return {{"ok", true}, {"page_size", PageSet::kPageSize}, {"runs", runs}};
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
  if (op == "regions") return RegionsReply(agent, request);
  if (op == "pages") return PagesReply(agent, request);
  if (op == "stats") {
    nlohmann::json stats = agent.Stats();
    stats["ok"] = true;
    return stats;
  }
  return Fail(Status::InvalidArgument("unknown request '" + op + "'"));
}

namespace {

// The worker's pieces, with what a restart needs written to the state file
// whenever attachments or open handles change.
class Daemon {
 public:
  Daemon(const DaemonOptions& options, std::unique_ptr<Agent> agent,
         std::unique_ptr<fuse::HolderClient> holder)
      : options_(options),
        state_path_(options.agent.cache_dir + "/agent-state.json"),
        agent_(std::move(agent)),
        holder_(std::move(holder)) {}

  Status Start() {
    std::map<uint64_t, std::string> handles;
    if (holder_->resumed()) {
      Result<std::string> text = ReadFileToString(state_path_);
      nlohmann::json state =
          text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
      if (!state.is_object()) {
        options_.log("no usable state file " + state_path_ + ": serving no attachments");
        state = nlohmann::json::object();
      }
      agent_->Restore(state.value("agent", nlohmann::json::object()));
      handovers_ = state.value("handovers", uint64_t{0}) + 1;
      nlohmann::json open = state.value("handles", nlohmann::json::object());
      for (const auto& [fh, id] : open.items()) {
        if (id.is_string()) handles[std::strtoull(fh.c_str(), nullptr, 10)] = id;
      }
    }
    Agent* a = agent_.get();
    BlockFsHooks hooks{[a](const std::string& id) { return a->Find(id); },
                       [a] { return a->List(); }, options_.log, [this] { SaveState(); },
                       [this] {
                         Status s = holder_->MarkInitialized();
                         if (!s.ok()) options_.log(s.ToString());
                       }};
    LODE_ASSIGN_OR_RETURN(fs_, BlockFs::Serve(holder_->fuse_fd(), hooks, handles));
    SaveState();
    if (holder_->resumed()) {
      // What the previous agent read and never answered comes again.
      LODE_RETURN_IF_ERROR(fuse::NotifyResend(holder_->fuse_fd()));
      options_.log("took over the FUSE connection of " + options_.mountpoint + " (" +
                   std::to_string(agent_->List().size()) + " attachments)");
    }
    return Status::Ok();
  }

  nlohmann::json Handle(const nlohmann::json& request) {
    std::string op = request.value("op", "");
    if (handed_over_) return Fail(Status::Unavailable("this agent handed over to a new one"));
    if (op == "handover") return HandOver();
    nlohmann::json reply = HandleRequest(*agent_, options_.mountpoint, request);
    if ((op == "attach" || op == "detach") && reply.value("ok", false)) SaveState();
    return reply;
  }

  bool handed_over() const { return handed_over_; }
  uint64_t handovers() const { return handovers_; }
  Agent& agent() { return *agent_; }

  // Clean stop: every attachment detached, the file system unmounted.
  void Stop() {
    agent_->DetachAll();
    Status s = holder_->Unmount();
    if (!s.ok()) options_.log(s.ToString());
    fs_.reset();
    ::unlink(state_path_.c_str());
  }

 private:
  // Stops serving, leaving requests queued in the kernel, makes overlays
  // durable, writes the state and lets the holder lend the connection to
  // the agent that asked.
  nlohmann::json HandOver() {
    options_.log("handing over to a new agent");
    fs_->Stop();
    agent_->SyncOverlays();
    SaveState();
    Status released = holder_->Release();
    if (!released.ok()) return Fail(released);
    handed_over_ = true;
    ::kill(::getpid(), SIGUSR1);  // ends RunDaemon's wait
    return {{"ok", true}, {"pid", ::getpid()}};
  }

  void SaveState() {
    std::lock_guard lock(state_mu_);
    nlohmann::json handles = nlohmann::json::object();
    if (fs_) {
      for (const auto& [fh, id] : fs_->Handles()) handles[std::to_string(fh)] = id;
    }
    nlohmann::json state = {
        {"agent", agent_->State()}, {"handles", handles}, {"handovers", handovers_}};
    Status s = WriteFileAtomically(state_path_, state.dump() + "\n");
    if (!s.ok()) options_.log("state not saved: " + s.ToString());
  }

  const DaemonOptions& options_;
  std::string state_path_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<fuse::HolderClient> holder_;
  std::unique_ptr<BlockFs> fs_;
  std::mutex state_mu_;
  std::atomic<bool> handed_over_ = false;
  uint64_t handovers_ = 0;  // agents before this one that served the mount
};

// The API socket; during an upgrade the old agent may still hold it a moment.
Result<std::unique_ptr<ApiServer>> StartApi(const DaemonOptions& options, Daemon& d) {
  int64_t deadline = MonotonicNanos() + 10'000'000'000;
  while (true) {
    Result<std::unique_ptr<ApiServer>> api = ApiServer::Start(
        options.socket_path, [&d](const nlohmann::json& r) { return d.Handle(r); });
    if (api.ok() || !options.upgrade || api.status().code() != StatusCode::kRejected ||
        MonotonicNanos() > deadline) {
      return api;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

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
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (options.upgrade) {
    Result<nlohmann::json> old = CallAgent(options.socket_path, {{"op", "handover"}});
    if (!old.ok()) return old.status().WithContext("upgrade the agent on " + options.socket_path);
    options.log("the agent (pid " + std::to_string(old->value("pid", 0)) + ") handed over");
  } else if (CallAgent(options.socket_path, {{"op", "ping"}}).ok()) {
    return Status::Rejected("an agent already listens on " + options.socket_path +
                            ": stop it, or replace it with lode agent --upgrade");
  }
  AgentOptions agent_options = options.agent;
  agent_options.log = options.log;
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Agent> agent,
                        Agent::Create(agent_options, std::move(store), std::move(keys)));
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<fuse::HolderClient> holder,
                        fuse::HolderClient::Take(options.holder_socket, options.holder_argv,
                                                 std::chrono::seconds(options.upgrade ? 10 : 3)));
  Daemon d(options, std::move(agent), std::move(holder));
  LODE_RETURN_IF_ERROR(d.Start());
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<ApiServer> api, StartApi(options, d));
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_listen.empty()) {
    LODE_ASSIGN_OR_RETURN(metrics, MetricsServer::Start(options.metrics_listen, [&d] {
                            return RenderPrometheus(d.agent().Stats(), d.handovers());
                          }));
  }
  ready();
  int signal = -1;
  timespec tick{1, 0};
  uint64_t reads_seen = 0;
  int64_t last_trim = MonotonicNanos(), last_follow = last_trim;
  const int64_t follow_ns = std::chrono::nanoseconds(options.agent.follow_interval).count();
  Agent& a = d.agent();
  while (signal < 0) {
    signal = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal >= 0) break;
    int64_t now = MonotonicNanos();
    a.SaveQuietProfiles();
    if (now - last_follow >= follow_ns) {
      a.FollowMigrations();
      last_follow = now;
    }
    // Trimming locks the arenas: only when no block was read for a period.
    if (now - last_trim >= 2'000'000'000) {
      uint64_t reads = 0;
      for (const auto& attachment : a.List()) reads += attachment->counters().reads.load();
      if (reads == reads_seen) ::malloc_trim(0);
      reads_seen = reads;
      last_trim = now;
    }
  }
  metrics.reset();
  api.reset();
  if (d.handed_over()) {
    options.log("exiting after the handover");
    return Status::Ok();
  }
  options.log(std::string("stopping on ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT"));
  d.Stop();
  return Status::Ok();
}

}  // namespace lode::agent
