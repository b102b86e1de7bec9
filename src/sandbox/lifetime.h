// Making sure sandboxes do not outlive the process that started them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "util/status.h"

namespace lode::sandbox {

// Removes the empty cgroups of containers (/lode/NAME under every v1
// controller, and in v2) whose NAME `remove` accepts: what crun leaves when
// it is killed with its containers.
void RemoveContainerCgroups(const std::function<bool(const std::string& name)>& remove);

// A PID namespace whose init ends with the thread that created it:
// containers started in it (ContainerSpec::pid_namespace) are killed by
// the kernel when that thread's process dies, however it dies, so a killed
// host leaves no sandbox running. Create it from the main thread.
class PidNamespace {
 public:
  static Result<std::unique_ptr<PidNamespace>> Create();
  // Kills the init, and with it every process in the namespace.
  ~PidNamespace();
  PidNamespace(const PidNamespace&) = delete;
  PidNamespace& operator=(const PidNamespace&) = delete;
  int fd() const { return ns_fd_; }

 private:
  PidNamespace(pid_t init, int ns_fd) : init_(init), ns_fd_(ns_fd) {}
  pid_t init_;
  int ns_fd_;
};

}  // namespace lode::sandbox
