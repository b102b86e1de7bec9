// The agent's metrics in the Prometheus text exposition format (0.0.4),
// served over plain HTTP on `lode agent --metrics-listen ADDR:PORT`
// (GET /metrics). Rendered from the same snapshot `lode stats --json`
// prints; names and labels: docs/formats/agent.md.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "util/file.h"
#include "util/status.h"

namespace lode::agent {

// `stats` is Agent::Stats(); `handovers` counts agents that took over this
// mount's FUSE connection before this one.
std::string RenderPrometheus(const nlohmann::json& stats, uint64_t handovers);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Listens on `address` ("HOST:PORT"; an empty HOST is every interface).
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  MetricsServer(UniqueFd listen_fd, UniqueFd stop_event, Render render);
  void Serve();
  void Answer(int conn);

  UniqueFd listen_fd_;
  UniqueFd stop_event_;
  Render render_;
  std::thread thread_;
};

}  // namespace lode::agent
