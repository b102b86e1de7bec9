// lode agent (the worker daemon) and the verbs that talk to it over its
// socket: attach, detach, ps, stats.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>

#include "agent/daemon.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "fuse/holder.h"
#include "keys/keyd_client.h"
#include "util/size.h"

namespace lode::cli {
namespace {

// Log lines on stderr: "TIME lode WHO: MESSAGE".
std::function<void(const std::string&)> Logger(const char* who) {
  return [who](const std::string& message) {
    std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    std::fprintf(stderr, "%s lode %s: %s\n", stamp, who, message.c_str());
  };
}

std::string Short(const std::string& ref) {
  size_t slash = ref.find('/');
  return slash == std::string::npos ? ref : ref.substr(0, slash + 13);
}

void RegisterAgentDaemon(CLI::App& app) {
  auto a = std::make_shared<AgentDaemonArgs>();
  CLI::App* cmd = app.add_subcommand(
      "agent", "Run the worker agent: serve attached images as block files through FUSE");
  a->Add(cmd);
  cmd->callback([a] {
    agent::DaemonOptions options = a->Options();
    options.log = Logger("agent");
    if (a->require_keyd && keys::KeydAddress(a->keys.keyd).empty()) {
      throw CommandFailed(Status::InvalidArgument(
          "--require-keyd: no key daemon given (--keyd SOCKET or LODE_KEYD); this agent holds "
          "no tenant keys"));
    }
    Check(agent::RunDaemon(options, a->store.Open(), a->keys.Open(), [&] {
      options.log("serving on " + options.socket_path + ", block files under " +
                  options.mountpoint);
    }));
  });
}

// Started by `lode agent`, not by hand: see fuse/holder.h.
void RegisterFuseHolder(CLI::App& app) {
  auto o = std::make_shared<fuse::HolderOptions>();
  auto timeout_ms = std::make_shared<int>(30000);
  CLI::App* cmd = app.add_subcommand(
      "fuse-holder",
      "Hold the agent's FUSE connection across agent restarts (started by lode agent)");
  cmd->add_option("--socket", o->socket_path, "where agents take the connection")->required();
  cmd->add_option("--mountpoint", o->mountpoint, "where the file system is mounted")->required();
  cmd->add_option("--orphan-timeout-ms", *timeout_ms,
                  "with no agent for this long, answer requests with EIO")
      ->capture_default_str();
  cmd->callback([o, timeout_ms] {
    o->orphan_timeout = std::chrono::milliseconds(*timeout_ms);
    o->log = Logger("fuse-holder");
    Check(fuse::RunHolder(*o));
  });
}

void RegisterAttach(CLI::App& app) {
  struct Args {
    std::string socket, ref, tenant;
    bool writable = false, json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "attach", "Attach a pushed image to the agent; prints the path of its block file");
  cmd->add_option("ref", a->ref, "ROOT/MANIFEST-ID or a tag")->required();
  cmd->add_option("--tenant", a->tenant, "tenant whose key opens the manifest")->required();
  cmd->add_flag("--rw", a->writable, "writable: writes go to a copy-on-write overlay");
  cmd->add_flag("--json", a->json, "print the attachment as one JSON object");
  AddSocketOption(cmd, a->socket);
  cmd->callback([a] {
    nlohmann::json r = AskAgent(
        a->socket,
        {{"op", "attach"}, {"ref", a->ref}, {"tenant", a->tenant}, {"writable", a->writable}});
    r.erase("ok");
    if (a->json) {
      std::printf("%s\n", r.dump().c_str());
    } else {
      std::printf("%s\n", r["path"].get<std::string>().c_str());
    }
  });
}

void RegisterDetach(CLI::App& app) {
  struct Args {
    std::string socket, id;
    bool keep = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("detach", "Detach an image from the agent");
  cmd->add_option("id", a->id, "attachment id (the block file's name)")->required();
  cmd->add_flag("--keep", a->keep, "keep the copy-on-write overlay's files");
  AddSocketOption(cmd, a->socket);
  cmd->callback([a] {
    nlohmann::json r = AskAgent(a->socket, {{"op", "detach"}, {"id", a->id}, {"keep", a->keep}});
    std::string kept = r.value("kept_overlay", "");
    if (!kept.empty()) std::printf("overlay kept: %s\n", kept.c_str());
  });
}

void RegisterPs(CLI::App& app) {
  struct Args {
    std::string socket;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("ps", "List the agent's attached images");
  cmd->add_flag("--json", a->json, "print one JSON array");
  AddSocketOption(cmd, a->socket);
  cmd->callback([a] {
    nlohmann::json r = AskAgent(a->socket, {{"op", "list"}});
    if (a->json) {
      std::printf("%s\n", r["attachments"].dump().c_str());
      return;
    }
    std::printf("%-16s %-12s %-18s %10s %3s %10s %10s\n", "ID", "TENANT", "REF", "SIZE", "RW",
                "READ", "FETCHED");
    for (const auto& j : r["attachments"]) {
      std::printf("%-16s %-12s %-18s %10s %3s %10s %10s\n", j["id"].get<std::string>().c_str(),
                  j["tenant"].get<std::string>().c_str(),
                  Short(j["ref"].get<std::string>()).c_str(),
                  FormatSize(j["image_bytes"].get<uint64_t>()).c_str(),
                  j["writable"].get<bool>() ? "rw" : "ro",
                  FormatSize(j["bytes_read"].get<uint64_t>()).c_str(),
                  FormatSize(j["fetched_bytes"].get<uint64_t>()).c_str());
    }
  });
}

unsigned long long Count(const nlohmann::json& j, const char* key) {
  return static_cast<unsigned long long>(j.value(key, uint64_t{0}));
}

// The L2's stripe counters and the origin's admission counters.
void PrintTierExtras(const nlohmann::json& t) {
  if (t.contains("stripes_late")) {
    std::printf("       code %s: stripes late %llu, missing %llu; fills %llu (%llu dropped)\n",
                t["code"].get<std::string>().c_str(), Count(t, "stripes_late"),
                Count(t, "stripes_missing"), Count(t, "fills"), Count(t, "fills_dropped"));
  }
  if (t.contains("admission")) {
    const auto& a = t["admission"];
    std::printf(
        "       admission: %llu of %llu in flight (peak %llu), %llu waited, %llu rejected\n",
        Count(a, "in_flight"), Count(a, "limit"), Count(a, "peak_in_flight"), Count(a, "waited"),
        Count(a, "rejected"));
  }
}

void RegisterStats(CLI::App& app) {
  struct Args {
    std::string socket;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("stats", "Show the agent's cache tiers and attachments");
  cmd->add_flag("--json", a->json, "print one JSON object");
  AddSocketOption(cmd, a->socket);
  cmd->callback([a] {
    nlohmann::json r = AskAgent(a->socket, {{"op", "stats"}});
    r.erase("ok");
    if (a->json) {
      std::printf("%s\n", r.dump().c_str());
      return;
    }
    std::printf("store %s\n", r["store"].get<std::string>().c_str());
    const auto& l1 = r["l1"];
    std::printf("l1    %s: %llu chunks, %s of %s, %llu evictions\n",
                l1["dir"].get<std::string>().c_str(),
                static_cast<unsigned long long>(l1["entries"].get<uint64_t>()),
                FormatSize(l1["bytes"].get<uint64_t>()).c_str(),
                FormatSize(l1["budget"].get<uint64_t>()).c_str(),
                static_cast<unsigned long long>(l1["evictions"].get<uint64_t>()));
    for (const auto& t : r["tiers"]) {
      if (!t.contains("hits")) {
        std::printf("%-6s %s cached\n", t["tier"].get<std::string>().c_str(),
                    FormatSize(t["bytes_cached"].get<uint64_t>()).c_str());
        continue;
      }
      std::printf(
          "%-6s hits %llu, misses %llu, errors %llu, %s; latency p50 %llu us, p99 %llu us\n",
          t["tier"].get<std::string>().c_str(),
          static_cast<unsigned long long>(t["hits"].get<uint64_t>()),
          static_cast<unsigned long long>(t["misses"].get<uint64_t>()),
          static_cast<unsigned long long>(t["errors"].get<uint64_t>()),
          FormatSize(t["bytes"].get<uint64_t>()).c_str(),
          static_cast<unsigned long long>(t["latency_us_p50"].get<uint64_t>()),
          static_cast<unsigned long long>(t["latency_us_p99"].get<uint64_t>()));
      PrintTierExtras(t);
    }
    for (const auto& j : r["attachments"]) {
      std::printf(
          "%s: %llu reads (%s), chunks: %llu memory, %llu l1, %llu fetched (%s), %llu shared\n",
          j["id"].get<std::string>().c_str(),
          static_cast<unsigned long long>(j["reads"].get<uint64_t>()),
          FormatSize(j["bytes_read"].get<uint64_t>()).c_str(),
          static_cast<unsigned long long>(j["memory_hits"].get<uint64_t>()),
          static_cast<unsigned long long>(j["l1_hits"].get<uint64_t>()),
          static_cast<unsigned long long>(j["chunks_fetched"].get<uint64_t>()),
          FormatSize(j["fetched_bytes"].get<uint64_t>()).c_str(),
          static_cast<unsigned long long>(j["shared_fetches"].get<uint64_t>()));
    }
  });
}

}  // namespace

void RegisterAgent(CLI::App& app) {
  RegisterAgentDaemon(app);
  RegisterFuseHolder(app);
  RegisterAttach(app);
  RegisterDetach(app);
  RegisterPs(app);
  RegisterStats(app);
}

}  // namespace lode::cli
