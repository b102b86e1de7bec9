// The holder: a small process that owns the agent's FUSE connection so it
// outlives the agent. It mounts the file system, then lends the /dev/fuse
// descriptor to one agent at a time over a Unix socket (SCM_RIGHTS). While
// no agent holds it, requests wait in the kernel; a restarted or upgraded
// agent takes the descriptor back, has the kernel resend what its
// predecessor read but never answered, and serves on. If no agent comes
// for `orphan_timeout`, the holder answers requests with EIO itself, so
// readers fail after a bound instead of hanging, until one does.
//
// Protocol (SOCK_SEQPACKET, one message per line of text):
//   agent: take        holder: "ok 0" or "ok 1" (1: an earlier agent
//                      answered INIT) with the descriptor, or "busy"
//   agent: initialized (INIT is being answered; no reply)
//   agent: release     holder: "ok" (a successor will take over)
//   agent: unmount     holder: "ok", then unmounts and exits
// A connection that closes without "release" or "unmount" is an agent that
// died: the orphan timer starts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/file.h"
#include "util/status.h"

namespace lode::fuse {

struct HolderOptions {
  std::string socket_path;
  std::string mountpoint;
  std::chrono::milliseconds orphan_timeout{10000};
  std::function<void(const std::string&)> log;
};

// Mounts, serves the socket, returns after "unmount" or when the file system
// was unmounted from outside.
Status RunHolder(const HolderOptions& options);

// The agent's end.
class HolderClient {
 public:
  // Takes the FUSE connection from the holder on `socket_path`, starting
  // one with `holder_argv` (detached in its own session) if none answers.
  // A holder still lending it to a previous agent is asked again until
  // `wait` passes.
  static Result<std::unique_ptr<HolderClient>> Take(const std::string& socket_path,
                                                    const std::vector<std::string>& holder_argv,
                                                    std::chrono::milliseconds wait);

  int fuse_fd() const { return fuse_fd_.get(); }
  // True when an earlier agent served this connection (INIT is done).
  bool resumed() const { return resumed_; }
  Status MarkInitialized();
  // Hands the connection back for a successor; this client is done.
  Status Release();
  // Ends it all: the holder unmounts and exits.
  Status Unmount();

 private:
  HolderClient(UniqueFd socket, UniqueFd fuse_fd, bool resumed)
      : socket_(std::move(socket)), fuse_fd_(std::move(fuse_fd)), resumed_(resumed) {}
  Status Ask(const std::string& message);  // expects "ok"

  UniqueFd socket_;
  UniqueFd fuse_fd_;
  bool resumed_;
};

}  // namespace lode::fuse
