// The agent's FUSE file system: one directory whose files are the attached
// images, "<mountpoint>/<attachment id>", each as large as its image. It
// serves a /dev/fuse connection it is lent (fuse/holder.h) on many threads,
// speaking the protocol itself (fuse/wire.h) so that a later agent can
// resume the same connection. Node ids and file handles are numbers that
// survive that: an attachment's node is AttachmentInfo::node, and open
// handles are listed by Handles() for the agent's state file.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/attachment.h"
#include "fuse/wire.h"
#include "util/file.h"
#include "util/status.h"

namespace lode::agent {

struct BlockFsHooks {
  std::function<std::shared_ptr<Attachment>(const std::string& id)> find;
  std::function<std::vector<std::shared_ptr<Attachment>>()> list;
  std::function<void(const std::string& message)> log;  // failed reads and writes
  // A handle was opened or released (before the kernel hears of it).
  std::function<void()> handles_changed;
  // INIT arrived: the connection is in use from now on.
  std::function<void()> initializing;
};

class BlockFs {
 public:
  // Serves `fuse_fd` (borrowed; mounted, nonblocking) with `handles` open
  // (handle -> attachment id, from an earlier agent's state).
  static Result<std::unique_ptr<BlockFs>> Serve(int fuse_fd, BlockFsHooks hooks,
                                                const std::map<uint64_t, std::string>& handles);
  ~BlockFs();  // Stop()
  BlockFs(const BlockFs&) = delete;
  BlockFs& operator=(const BlockFs&) = delete;

  // Stops reading requests; the ones being handled are answered first.
  // Requests still queued wait in the kernel for the next server.
  void Stop();
  // Open handles and their attachments' ids.
  std::map<uint64_t, std::string> Handles() const;

 private:
  BlockFs(int fuse_fd, BlockFsHooks hooks, UniqueFd stop_event);
  void Loop();
  void Dispatch(const fuse::Request& r, std::vector<uint8_t>& reply);
  void Init(const fuse::Request& r);
  void Lookup(const fuse::Request& r);
  void GetAttr(const fuse::Request& r);
  void SetAttr(const fuse::Request& r);
  void Open(const fuse::Request& r);
  void Release(const fuse::Request& r);
  void Read(const fuse::Request& r, std::vector<uint8_t>& reply);
  void Write(const fuse::Request& r);
  void Sync(const fuse::Request& r, uint64_t fh);
  void ReadDir(const fuse::Request& r, std::vector<uint8_t>& reply);
  std::shared_ptr<Attachment> ByNode(uint64_t node) const;
  std::shared_ptr<Attachment> ByHandle(uint64_t fh) const;
  void Answer(uint64_t unique, int error);
  void Sent(const Status& reply);  // logs a reply that could not be written

  int fd_;
  BlockFsHooks hooks_;
  UniqueFd stop_event_;
  std::atomic<bool> stopping_ = false;
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Attachment>> handles_;  // guarded by mu_
  uint64_t next_handle_ = 1;                                 // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace lode::agent
