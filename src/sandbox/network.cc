#include "sandbox/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <thread>

namespace lode::sandbox {
namespace {

// Runs `work` on a thread that has moved into `ns` (or a new namespace
// when `ns` is -1): setns and unshare change only the calling thread's
// network namespace, so the rest of the process stays where it is.
template <typename T>
Result<T> InNamespace(int ns, std::function<Result<T>()> work) {
  std::packaged_task<Result<T>()> task([&]() -> Result<T> {
    int moved = ns < 0 ? ::unshare(CLONE_NEWNET) : ::setns(ns, CLONE_NEWNET);
    if (moved != 0) return Status::FromErrno(errno, "enter a network namespace");
    return work();
  });
  std::future<Result<T>> result = task.get_future();
  std::thread(std::move(task)).join();
  return result.get();
}

Status BringUpLoopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return Status::FromErrno(errno, "socket");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &req) != 0) return Status::FromErrno(errno, "read lo's flags");
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &req) != 0) return Status::FromErrno(errno, "bring up lo");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<NetworkNamespace>> NetworkNamespace::Create() {
  LODE_ASSIGN_OR_RETURN(UniqueFd ns, InNamespace<UniqueFd>(-1, []() -> Result<UniqueFd> {
                          LODE_RETURN_IF_ERROR(BringUpLoopback());
                          UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
                          if (!fd.valid()) return Status::FromErrno(errno, "open the namespace");
                          return fd;
                        }));
  return std::unique_ptr<NetworkNamespace>(new NetworkNamespace(std::move(ns)));
}

Result<UniqueFd> NetworkNamespace::Listen(const std::string& ip, int port) const {
  return InNamespace<UniqueFd>(ns_.get(), [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status::FromErrno(errno, "socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
      return Status::InvalidArgument("bad IPv4 address '" + ip + "'");
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return Status::FromErrno(errno, "listen on " + ip + ":" + std::to_string(port));
    }
    return fd;
  });
}

std::string NetworkNamespace::Path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(ns_.get());
}

Status NetworkNamespace::ConnectOutbound() {
  int exit_pipe[2], ready_pipe[2];
  if (::pipe2(exit_pipe, O_CLOEXEC) != 0 || ::pipe2(ready_pipe, O_CLOEXEC) != 0) {
    return Status::FromErrno(errno, "pipe");
  }
  // Everything the child needs is made here: after a fork in a threaded
  // process the child may not allocate (another thread may hold malloc's lock).
  std::string path = Path();
  std::string exit_fd = std::to_string(exit_pipe[0]), ready_fd = std::to_string(ready_pipe[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork slirp4netns");
  if (pid == 0) {
    // No death signal (it would follow the forking thread, not the
    // process): slirp4netns exits when the exit pipe's last writer, this
    // process, closes it or dies. Its ends of both pipes, and the namespace, must survive the exec.
    ::fcntl(exit_pipe[0], F_SETFD, 0);
    ::fcntl(ready_pipe[1], F_SETFD, 0);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);  // progress notes; a failure shows as no ready byte
    ::execlp("slirp4netns", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
             "--exit-fd", exit_fd.c_str(), "--ready-fd", ready_fd.c_str(), "--netns-type=path",
             path.c_str(), "tap0", nullptr);
    _exit(127);
  }
  ::close(exit_pipe[0]);
  ::close(ready_pipe[1]);
  slirp_ = pid;
  slirp_exit_ = UniqueFd(exit_pipe[1]);
  UniqueFd ready(ready_pipe[0]);
  char byte = 0;
  ssize_t n;
  while ((n = ::read(ready.get(), &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) {
    return Status::Unavailable(
        "slirp4netns did not start (is it installed?): no outbound network for the sandbox");
  }
  return Status::Ok();
}

NetworkNamespace::~NetworkNamespace() {
  if (slirp_ <= 0) return;
  slirp_exit_.Reset();
  for (int i = 0; i < 200; ++i) {  // it exits at once; a stuck one is killed after 2 s
    if (::waitpid(slirp_, nullptr, WNOHANG) == slirp_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(slirp_, SIGKILL);
  while (::waitpid(slirp_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace lode::sandbox
