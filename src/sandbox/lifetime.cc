#include "sandbox/lifetime.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace lode::sandbox {

namespace fs = std::filesystem;

void RemoveContainerCgroups(const std::function<bool(const std::string& name)>& remove) {
  std::vector<fs::path> parents = {"/sys/fs/cgroup/lode"};
  std::error_code ec;
  for (const fs::directory_entry& controller : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    parents.push_back(controller.path() / "lode");
  }
  for (const fs::path& parent : parents) {
    for (const fs::directory_entry& cgroup : fs::directory_iterator(parent, ec)) {
      if (cgroup.is_directory(ec) && remove(cgroup.path().filename().string())) {
        ::rmdir(cgroup.path().c_str());  // fails, as it should, while processes are in it
      }
    }
  }
}

namespace {

// The init of a PidNamespace: reaps the namespace's orphans until the
// thread that made it dies (PR_SET_PDEATHSIG), which ends the namespace.
int RunNamespaceInit(void* alive_pipe) {
  int* alive = static_cast<int*>(alive_pipe);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::close(alive[1]);
  // Its parent, outside the namespace, shows as PID 0 alive or dead: the
  // parent's end of the pipe, closed when it dies, tells.
  pollfd parent{alive[0], POLLIN, 0};
  if (::poll(&parent, 1, 0) != 0) return 0;
  ::close_range(3, ~0U, 0);
  while (true) {
    if (::wait(nullptr) < 0 && errno == ECHILD) ::sleep(1);
  }
}

}  // namespace

Result<std::unique_ptr<PidNamespace>> PidNamespace::Create() {
  int alive[2];
  if (::pipe2(alive, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  constexpr size_t kStack = 64 << 10;
  std::vector<char> stack(kStack);
  pid_t init = ::clone(RunNamespaceInit, stack.data() + kStack, CLONE_NEWPID | SIGCHLD, alive);
  int err = errno;
  ::close(alive[0]);  // alive[1] stays open as long as this process lives
  if (init < 0) return Status::FromErrno(err, "start a PID namespace");
  int fd = ::open(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    ::kill(init, SIGKILL);
    ::waitpid(init, nullptr, 0);
    return Status::FromErrno(err, "open the PID namespace");
  }
  return std::unique_ptr<PidNamespace>(new PidNamespace(init, fd));
}

PidNamespace::~PidNamespace() {
  ::kill(init_, SIGKILL);
  while (::waitpid(init_, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::close(ns_fd_);
}

}  // namespace lode::sandbox
