#include "cli/agent_client.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "agent/api.h"
#include "cli/output.h"
#include "util/file.h"
#include "util/size.h"

namespace lode::cli {
namespace {

std::string RuntimeDir() { return ::geteuid() == 0 ? "/run/lode" : DataDir() + "/run"; }

}  // namespace

std::string DefaultAgentSocket() {
  const char* env = std::getenv("LODE_AGENT_SOCKET");
  return env && *env ? env : RuntimeDir() + "/agent.sock";
}

void AddSocketOption(CLI::App* cmd, std::string& socket) {
  cmd->add_option("--socket", socket,
                  "agent socket; default $LODE_AGENT_SOCKET or " + RuntimeDir() + "/agent.sock");
}

nlohmann::json AskAgent(const std::string& socket, const nlohmann::json& request) {
  return Check(agent::CallAgent(socket.empty() ? DefaultAgentSocket() : socket, request));
}

void AgentDaemonArgs::Add(CLI::App* cmd, bool private_agent) {
  store.Add(cmd);
  keys.Add(cmd);
  cmd->add_option("--cache", cache_dir,
                  "L1 cache and overlay directory; default the data directory's");
  cmd->add_option("--cache-size", cache_size, "L1 disk cache budget")->capture_default_str();
  cmd->add_option("--memory-size", memory_size, "memory budget for decrypted chunks")
      ->capture_default_str();
  cmd->add_option("--l2", l2_url, "L2 cache fleet: memcached://HOST:PORT,HOST:PORT,...");
  cmd->add_option("--l2-code", l2_code, "L2 erasure code K+M: data + parity stripes")
      ->capture_default_str();
  cmd->add_option("--l2-deadline-ms", l2_deadline_ms, "give up on an L2 read after this long")
      ->capture_default_str();
  cmd->add_option("--max-origin-fetches", max_origin_fetches,
                  "admission control: concurrent fetches from the store")
      ->capture_default_str();
  cmd->add_option("--admission-timeout-ms", admission_timeout_ms,
                  "how long a fetch waits for admission before failing")
      ->capture_default_str();
  cmd->add_option("--prefetch", prefetch,
                  "on attach, prefetch the image's startup profile (profile) or not (off)")
      ->check(CLI::IsMember({"off", "profile"}))
      ->capture_default_str();
  cmd->add_option("--prefetch-threads", prefetch_threads, "chunks prefetched at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  if (private_agent) return;
  cmd->add_option("--follow-interval", follow_interval_s,
                  "seconds between looks for gc migrations of attached images")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddSocketOption(cmd, socket);
  cmd->add_option("--mountpoint", mountpoint,
                  "where block files appear; default " + RuntimeDir() + "/images");
  cmd->add_flag("--require-keyd", require_keyd,
                "refuse to start without a key daemon (--keyd or LODE_KEYD): a worker that "
                "must never hold tenant keys");
  cmd->add_flag("--upgrade", upgrade,
                "replace the agent running on --socket: it hands its FUSE connection and "
                "attachments over to this one, and exits");
  cmd->add_option("--orphan-timeout-ms", orphan_timeout_ms,
                  "with no agent serving for this long (a crash with no restart), reads of "
                  "block files fail with EIO instead of waiting")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--metrics-listen", metrics_listen,
                  "serve Prometheus metrics on HOST:PORT (GET /metrics); off by default");
}

std::vector<std::string> AgentDaemonArgs::PrivateAgentArgs(const std::string& socket_path,
                                                           const std::string& mount) const {
  std::vector<std::string> args = {"agent",
                                   "--socket",
                                   socket_path,
                                   "--mountpoint",
                                   mount,
                                   "--cache-size",
                                   cache_size,
                                   "--memory-size",
                                   memory_size,
                                   "--prefetch",
                                   prefetch,
                                   "--prefetch-threads",
                                   std::to_string(prefetch_threads)};
  for (const auto& [flag, value] : {std::pair{"--store", store.url},
                                    {"--keys", keys.dir},
                                    {"--keyd", keys.keyd},
                                    {"--cache", cache_dir},
                                    {"--l2", l2_url}}) {
    if (!value.empty()) args.insert(args.end(), {flag, value});
  }
  return args;
}

agent::DaemonOptions AgentDaemonArgs::Options() const {
  agent::DaemonOptions o;
  o.agent.cache_dir = cache_dir.empty() ? DataDir() + "/cache" : cache_dir;
  o.agent.cache_bytes = Check(ParseSize(cache_size));
  o.agent.memory_bytes = Check(ParseSize(memory_size));
  o.socket_path = socket.empty() ? DefaultAgentSocket() : socket;
  o.mountpoint = mountpoint.empty() ? RuntimeDir() + "/images" : mountpoint;
  o.upgrade = upgrade;
  o.metrics_listen = metrics_listen;
  o.holder_socket = o.socket_path + ".holder";
  o.holder_argv = {"/proc/self/exe",
                   "fuse-holder",
                   "--socket",
                   o.holder_socket,
                   "--mountpoint",
                   o.mountpoint,
                   "--orphan-timeout-ms",
                   std::to_string(orphan_timeout_ms)};
  o.agent.max_origin_fetches = max_origin_fetches;
  o.agent.admission_timeout = std::chrono::milliseconds(admission_timeout_ms);
  o.agent.follow_interval = std::chrono::seconds(follow_interval_s);
  o.agent.prefetch_threads = prefetch == "off" ? 0 : prefetch_threads;
  if (!l2_url.empty()) {
    cache::L2Options l2;
    l2.servers = Check(cache::ParseMemcachedUrl(l2_url));
    l2.code = Check(cache::ParseErasureCode(l2_code));
    l2.deadline = std::chrono::milliseconds(l2_deadline_ms);
    o.agent.l2 = l2;
  }
  return o;
}

}  // namespace lode::cli
