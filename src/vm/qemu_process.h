// A QEMU child process and the virtio-serial port sockets lode connects to
// it. Internal to the vm component.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/file.h"
#include "util/status.h"

namespace lode::vm {

// QEMU, started with a parent-death signal (a VM nobody relays for must
// not run on), watched through a pidfd and killed with this object.
class Qemu {
 public:
  Qemu() = default;
  ~Qemu();
  Qemu(const Qemu&) = delete;
  Qemu& operator=(const Qemu&) = delete;

  struct Options {
    std::string network_namespace;  // its path; "": the host's
    // QEMU advises the kernel to back all guest memory with huge pages;
    // on a memory file loaded on demand that makes every guest fault
    // read the 2-4 MiB around it. Restores ignore that advice.
    bool small_pages = false;
  };
  // Runs `args` (args[0] from PATH), its output to `log`.
  Status Start(const std::vector<std::string>& args, const std::string& log,
               const Options& options);
  int pidfd() const { return pidfd_; }
  pid_t pid() const { return pid_; }
  bool Exited() const;
  // Safe from any thread while the object lives (through the pidfd).
  void Kill() const;
  // QEMU's exit status (waits for it the first time).
  int Wait();

 private:
  pid_t pid_ = -1;
  int exit_code_ = 0;
  int pidfd_ = -1;
};

// Connects to a port's socket once QEMU listens on it.
Result<UniqueFd> ConnectPort(const Qemu& qemu, const std::string& path);

}  // namespace lode::vm
