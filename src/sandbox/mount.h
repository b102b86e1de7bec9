// Mounting a block file as ext4 the way a sandbox needs it: the file goes
// on a free loop device with direct I/O (so its pages are not cached twice
// and the file sees 1 MiB requests) and autoclear (the kernel frees the
// device when the mount goes away), then mount(2). Needs root.
#pragma once

#include <memory>
#include <string>

#include "util/status.h"

namespace lode::sandbox {

class Mount {
 public:
  // Mounts `block_file` read-only (or read-write) at `target` (created).
  static Result<std::unique_ptr<Mount>> Ext4(const std::string& block_file,
                                             const std::string& target, bool writable);
  ~Mount();  // unmounts; detaches lazily when still busy
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // Unmounts now and reports failure (the destructor cannot).
  Status Unmount();
  // Leaves the mount in place: it outlives this object and this process.
  void Keep() { mounted_ = false; }

 private:
  explicit Mount(std::string target) : target_(std::move(target)) {}
  std::string target_;
  bool mounted_ = true;
};

// Moves the calling process into a mount namespace of its own, with mount
// propagation turned off: whatever it mounts disappears with it, even when
// it is killed.
Status EnterPrivateMountNamespace();

}  // namespace lode::sandbox
