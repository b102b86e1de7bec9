// The agent's FUSE file system: one directory whose files are the attached
// images, "<mountpoint>/<attachment id>", each as large as its image. Reads
// and writes go to the attachment; libfuse runs them on many threads, with
// requests of up to 1 MiB (the loop driver's direct I/O sends that much).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/attachment.h"
#include "util/status.h"

struct fuse;

namespace lode::agent {

struct BlockFsHooks {
  std::function<std::shared_ptr<Attachment>(const std::string& id)> find;
  std::function<std::vector<std::shared_ptr<Attachment>>()> list;
  std::function<void(const std::string& message)> log;  // failed reads and writes
};

class BlockFs {
 public:
  // Mounts at `mountpoint` (created if missing) and starts serving.
  static Result<std::unique_ptr<BlockFs>> Mount(const std::string& mountpoint, BlockFsHooks hooks);
  ~BlockFs();  // unmounts (lazily, if a block file is still in use)
  BlockFs(const BlockFs&) = delete;
  BlockFs& operator=(const BlockFs&) = delete;

  const BlockFsHooks& hooks() const { return hooks_; }

 private:
  explicit BlockFs(BlockFsHooks hooks) : hooks_(std::move(hooks)) {}

  BlockFsHooks hooks_;
  struct fuse* fuse_ = nullptr;
  std::thread loop_;
};

}  // namespace lode::agent
