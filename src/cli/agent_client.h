// Where the agent listens and how it is configured: shared by `lode agent`,
// the verbs that talk to it, and `lode run` (which may start a private one).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/daemon.h"
#include "cli/common.h"

namespace lode::cli {

// $LODE_AGENT_SOCKET, else /run/lode/agent.sock for root, else the data directory's.
std::string DefaultAgentSocket();

// --socket PATH.
void AddSocketOption(CLI::App* cmd, std::string& socket);
// Sends one request to the agent on `socket` (the default when empty);
// throws CommandFailed with the agent's error.
nlohmann::json AskAgent(const std::string& socket, const nlohmann::json& request);

// The options of `lode agent`.
struct AgentDaemonArgs {
  StoreArgs store;
  KeysArgs keys;
  std::string cache_dir;
  std::string cache_size = "4GiB";
  std::string memory_size = "128MiB";
  std::string l2_url;
  std::string l2_code = "4+1";
  int l2_deadline_ms = 250;
  int max_origin_fetches = 32;
  int admission_timeout_ms = 10000;
  int follow_interval_s = 10;
  std::string prefetch = "profile";
  int prefetch_threads = 16;
  std::string socket;
  std::string mountpoint;
  bool upgrade = false;
  bool require_keyd = false;
  int orphan_timeout_ms = 30000;
  std::string metrics_listen;
  // `private_agent` leaves out --socket and --mountpoint (lode run picks its own).
  void Add(CLI::App* cmd, bool private_agent = false);
  agent::DaemonOptions Options() const;  // throws CommandFailed on a bad size
  // `lode agent` arguments for a private agent with these options.
  std::vector<std::string> PrivateAgentArgs(const std::string& socket_path,
                                            const std::string& mountpoint) const;
};

}  // namespace lode::cli
