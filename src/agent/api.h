// The agent's Unix-socket API. A client connects, sends one JSON object on a
// line ({"op": "attach" | "detach" | "list" | "stats" | "ping", ...}) and
// reads one JSON object back: {"ok": true, ...} or {"ok": false, "error":
// "one line"}. The socket is created 0600: only its owner may attach images.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "util/file.h"
#include "util/status.h"

namespace lode::agent {

class ApiServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  // Listens on `socket_path` (a stale socket file is replaced) and serves
  // requests one at a time on its own thread.
  static Result<std::unique_ptr<ApiServer>> Start(const std::string& socket_path, Handler handler);
  ~ApiServer();  // stops serving and removes the socket file

 private:
  ApiServer(std::string path, ino_t inode, UniqueFd fd, Handler handler);
  void Serve();

  std::string path_;
  ino_t inode_;  // of the socket file it created
  UniqueFd listen_fd_;
  Handler handler_;
  std::atomic<bool> stopping_ = false;
  std::thread thread_;
};

// The answer line (with its newline) to one request line as received: the
// handler's answer to a JSON object, an error answer to anything else or to
// a request of the wrong shape.
std::string AnswerRequest(const std::string& line, const ApiServer::Handler& handler);

// Sends one request and returns the agent's answer; Unavailable when no
// agent listens on `socket_path`, the agent's error as a Status otherwise.
Result<nlohmann::json> CallAgent(const std::string& socket_path, const nlohmann::json& request);
// CallAgent, retried while no agent listens (one being restarted or
// replaced: a handover takes a moment) for at most `patience`.
Result<nlohmann::json> CallAgentPatiently(const std::string& socket_path,
                                          const nlohmann::json& request,
                                          std::chrono::milliseconds patience);

}  // namespace lode::agent
