// The guest's end of a function VM's Runtime API relay (runtime_port.h),
// run by the init in its poll loop: it listens on 127.0.0.1:9001 and
// carries every connection over the lode.runtime port.
#pragma once

#include <poll.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/file.h"
#include "util/status.h"
#include "vm/runtime_port.h"

namespace lode::vm {

class GuestRuntimeRelay {
 public:
  // Listens on the loopback; `port` is the open lode.runtime port.
  static Result<GuestRuntimeRelay> Start(int port);

  // What to poll (for POLLIN).
  void AddPollFds(std::vector<pollfd>& fds) const;
  // Serves what `fds` (as poll returned them) says is ready.
  void Serve(const std::vector<pollfd>& fds);
  // The VM was restored from a snapshot: the host is a new one that knows
  // none of the connections. Sends it again, per connection, what the old
  // one received but never answered.
  void Replay();

 private:
  struct Connection {
    UniqueFd fd;
    // What the runtime sent since the host last sent it anything: the
    // request it is waiting on.
    std::string unanswered;
  };
  GuestRuntimeRelay(UniqueFd listening, int port) : listening_(std::move(listening)), port_(port) {}
  void Accept();
  void ReadConnection(uint32_t id);
  void ReadPort();
  void Send(uint32_t id, FrameKind kind, const std::string& bytes);

  UniqueFd listening_;
  int port_;
  std::map<uint32_t, Connection> connections_;
  uint32_t next_id_ = 1;
  std::string from_host_;
};

}  // namespace lode::vm
