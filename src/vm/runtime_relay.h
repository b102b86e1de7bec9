// The host's end of a function VM's Runtime API relay (runtime_port.h):
// each connection the guest relays becomes a connection to the Unix socket
// where the sandbox's Runtime API listens, opened at its first bytes (so a
// connection the guest replays after a restore reaches the new API). On
// its own thread. What the guest sends is not trusted: a malformed frame
// ends the relay (the runtime then sees its connections end).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "util/file.h"
#include "util/status.h"

namespace lode::vm {

class RuntimeRelay {
 public:
  // Relays between the lode.runtime port's socket `port` and `api_socket`.
  static Result<std::unique_ptr<RuntimeRelay>> Start(UniqueFd port, std::string api_socket);
  ~RuntimeRelay();
  RuntimeRelay(const RuntimeRelay&) = delete;
  RuntimeRelay& operator=(const RuntimeRelay&) = delete;

  // Why the relay ended early ("" while it runs or when it was stopped).
  std::string error() const;

 private:
  RuntimeRelay(UniqueFd port, std::string api_socket, UniqueFd stop);
  void Run();
  bool ReadPort();
  void ReadApi(uint32_t id);
  void SendToGuest(uint32_t id, bool close, const std::string& bytes);

  UniqueFd port_;
  std::string api_socket_;
  UniqueFd stop_;  // an eventfd: the destructor's signal
  std::map<uint32_t, UniqueFd> connections_;
  std::string from_guest_;
  std::string error_;
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

}  // namespace lode::vm
