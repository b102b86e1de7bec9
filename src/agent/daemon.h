// `lode agent`: the agent with its FUSE file system and socket API, until
// SIGTERM or SIGINT; then every attachment is detached and the file system
// unmounted. The FUSE connection lives in a holder process
// (fuse/holder.h): an agent that dies leaves it there, and the next one
// (same options) takes it over with the attachments and open handles the
// state file (<cache>/agent-state.json) lists. `upgrade` asks the running
// agent to hand over first, so no request fails.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent.h"

namespace lode::agent {

struct DaemonOptions {
  AgentOptions agent;
  std::string socket_path;
  std::string mountpoint;
  std::function<void(const std::string&)> log;  // one line per event
  std::string holder_socket;                    // where the FUSE holder listens
  std::vector<std::string> holder_argv;         // how to start one if none does
  bool upgrade = false;                         // take over from the running agent
  std::string metrics_listen;                   // HOST:PORT for Prometheus; empty: none
};

// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread it
// starts) and serves until one arrives. `ready` runs once the socket answers.
Status RunDaemon(const DaemonOptions& options, std::unique_ptr<store::ObjectStore> store,
                 std::unique_ptr<keys::KeyService> keys, const std::function<void()>& ready);

// Handles one API request against `agent` (exposed for tests).
nlohmann::json HandleRequest(Agent& agent, const std::string& mountpoint,
                             const nlohmann::json& request);

}  // namespace lode::agent
