// A client of QEMU's machine protocol (QMP): JSON objects, one per line, on
// a Unix socket. Connect reads the greeting and enters command mode; events
// (a paused VM, an I/O error) arrive on the socket whenever QEMU has one.
#pragma once

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/file.h"
#include "util/status.h"

namespace lode::vm {

class QmpClient {
 public:
  // Connects once QEMU listens on `socket` (within `timeout`).
  static Result<QmpClient> Connect(const std::string& socket, std::chrono::milliseconds timeout);

  int fd() const { return fd_.get(); }
  // Runs `command` and returns its "return" value; QEMU's "error" as an
  // error. Events that arrive meanwhile are kept for ReadEvents.
  Result<nlohmann::json> Execute(const std::string& command,
                                 const nlohmann::json& arguments = nlohmann::json::object(),
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The events among what can be read without blocking; Unavailable once
  // QEMU closed the connection.
  Result<std::vector<nlohmann::json>> ReadEvents();

 private:
  explicit QmpClient(UniqueFd fd) : fd_(std::move(fd)) {}
  // Appends what the socket holds (waiting up to `timeout_ms` for
  // something, -1: not at all) to the objects read.
  Status Receive(int timeout_ms);
  // The next whole object, waiting up to `timeout` for it.
  Result<nlohmann::json> Next(std::chrono::milliseconds timeout);

  UniqueFd fd_;
  std::string partial_;                 // an incomplete line
  std::deque<nlohmann::json> objects_;  // complete, not yet taken
  std::vector<nlohmann::json> events_;  // set aside by Execute
};

}  // namespace lode::vm
