#include "fuse/holder.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "fuse/wire.h"
#include "util/clock.h"
#include "util/unix_socket.h"

extern char** environ;

namespace lode::fuse {
namespace {

Result<UniqueFd> Listen(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "socket");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno(errno, "bind " + path);
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), 8) != 0) return Status::FromErrno(errno, "listen on " + path);
  return fd;
}

Result<UniqueFd> Connect(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::Unavailable("no FUSE holder on " + path + ": " + std::strerror(errno));
  }
  return fd;
}

// Sends `text`, with `pass` attached when it is a descriptor.
Status Send(int socket, const std::string& text, int pass = -1) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass, sizeof(int));
  }
  if (::sendmsg(socket, &msg, MSG_NOSIGNAL) < 0) return Status::FromErrno(errno, "send to holder");
  return Status::Ok();
}

// One message; "" when the peer closed. A descriptor that came with it
// lands in `received`.
Result<std::string> Receive(int socket, UniqueFd* received = nullptr) {
  char text[256];
  iovec iov{text, sizeof(text)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == ECONNRESET) return std::string();
    return Status::FromErrno(errno, "receive from holder socket");
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    UniqueFd owned(fd);
    if (received != nullptr) *received = std::move(owned);
  }
  return std::string(text, static_cast<size_t>(n));
}

class Holder {
 public:
  Holder(const HolderOptions& options, UniqueFd fuse_fd, UniqueFd listen_fd)
      : options_(options),
        fuse_fd_(std::move(fuse_fd)),
        listen_fd_(std::move(listen_fd)),
        orphaned_ns_(MonotonicNanos()),
        buffer_(kRequestBufferSize) {}

  Status Run() {
    while (true) {
      // The FUSE descriptor is watched for its end (POLLERR once the file
      // system is gone) always, for requests only while failing them.
      pollfd fds[3] = {{listen_fd_.get(), POLLIN, 0},
                       {agent_.get(), POLLIN, 0},
                       {fuse_fd_.get(), static_cast<short>(failing_ ? POLLIN : 0), 0}};
      int timeout = -1;
      if (!agent_.valid() && !failing_) {
        timeout = static_cast<int>(std::max<int64_t>(0, OrphanNanosLeft() / 1'000'000) + 1);
      }
      if (::poll(fds, 3, timeout) < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
      if (!agent_.valid() && !failing_ && OrphanNanosLeft() <= 0) {
        LODE_RETURN_IF_ERROR(StartFailing());
      }
      if (fds[2].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        Log("the file system is gone");
        return Status::Ok();
      }
      if (fds[2].revents != 0) {
        Result<bool> mounted = FailRequest();
        if (!mounted.ok() || !*mounted) return mounted.status();
      }
      if (fds[1].revents != 0) {
        Result<bool> go_on = FromAgent();
        if (!go_on.ok() || !*go_on) return go_on.status();
      }
      if (fds[0].revents != 0) Accept();
    }
  }

 private:
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  // Until the holder fails requests itself, counted from when the last
  // agent went.
  int64_t OrphanNanosLeft() const {
    return orphaned_ns_ + std::chrono::nanoseconds(options_.orphan_timeout).count() -
           MonotonicNanos();
  }

  Status StartFailing() {
    Log("no agent for " + std::to_string(options_.orphan_timeout.count()) +
        " ms: answering requests with EIO until one takes over");
    failing_ = true;
    // Requests the dead agent read but never answered fail too.
    return NotifyResend(fuse_fd_.get());
  }

  // False once the file system is gone.
  Result<bool> FailRequest() {
    Result<std::optional<Request>> r = ReadRequest(fuse_fd_.get(), buffer_);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kUnavailable) return false;
      return r.status();
    }
    if (*r && ExpectsReply((*r)->header.opcode)) {
      LODE_RETURN_IF_ERROR(Reply(fuse_fd_.get(), (*r)->header.unique, EIO));
    }
    return true;
  }

  // False after "unmount".
  Result<bool> FromAgent() {
    Result<std::string> message = Receive(agent_.get());
    std::string m = message.ok() ? *message : "";
    if (m == "initialized") {
      initialized_ = true;
      return true;
    }
    if (m == "unmount") {
      Status s = Unmount(options_.mountpoint);
      (void)Send(agent_.get(), s.ok() ? "ok" : s.ToString());
      return false;
    }
    if (m == "release") {
      (void)Send(agent_.get(), "ok");
      Log("agent released the FUSE connection");
    } else {
      Log("agent gone without releasing the FUSE connection");
    }
    agent_.Reset();
    orphaned_ns_ = MonotonicNanos();
    return true;
  }

  void Accept() {
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    timeval patience{1, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    Result<std::string> message = Receive(conn.get());
    if (!message.ok() || *message != "take") return;
    if (agent_.valid()) {
      (void)Send(conn.get(), "busy");
      return;
    }
    if (!Send(conn.get(), initialized_ ? "ok 1" : "ok 0", fuse_fd_.get()).ok()) return;
    if (failing_) Log("an agent took over");
    failing_ = false;
    agent_ = std::move(conn);
  }

  const HolderOptions& options_;
  UniqueFd fuse_fd_;
  UniqueFd listen_fd_;
  UniqueFd agent_;
  bool initialized_ = false;
  bool failing_ = false;
  int64_t orphaned_ns_;
  std::vector<uint8_t> buffer_;
};

Result<pid_t> Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  // A pipe on stderr would be held open by the holder long after the agent
  // that started it is gone: log only to a file or terminal.
  struct stat st;
  bool keep_stderr = ::fstat(2, &st) == 0 && (S_ISREG(st.st_mode) || ::isatty(2));
  if (!keep_stderr) posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int err = posix_spawn(&pid, args[0], &files, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Status::FromErrno(err, "start the FUSE holder " + argv[0]);
  return pid;
}

}  // namespace

Status RunHolder(const HolderOptions& options) {
  LODE_ASSIGN_OR_RETURN(UniqueFd fuse_fd, Mount(options.mountpoint));
  Result<UniqueFd> listen_fd = Listen(options.socket_path);
  if (!listen_fd.ok()) {
    (void)Unmount(options.mountpoint);
    return listen_fd.status();
  }
  Holder holder(options, std::move(fuse_fd), std::move(*listen_fd));
  Status s = holder.Run();
  ::unlink(options.socket_path.c_str());
  return s;
}

Result<std::unique_ptr<HolderClient>> HolderClient::Take(
    const std::string& socket_path, const std::vector<std::string>& holder_argv,
    std::chrono::milliseconds wait) {
  int64_t deadline = MonotonicNanos() + std::chrono::nanoseconds(wait).count();
  std::optional<pid_t> started;
  Status last = Status::Ok();
  while (true) {
    Result<UniqueFd> conn = Connect(socket_path);
    if (conn.ok()) {
      UniqueFd fuse_fd;
      Status sent = Send(conn->get(), "take");
      Result<std::string> answer = sent.ok() ? Receive(conn->get(), &fuse_fd) : sent;
      if (answer.ok() && answer->rfind("ok ", 0) == 0 && fuse_fd.valid()) {
        return std::unique_ptr<HolderClient>(
            new HolderClient(std::move(*conn), std::move(fuse_fd), *answer == "ok 1"));
      }
      last = answer.ok() ? Status::Unavailable("the FUSE holder on " + socket_path +
                                               " is still lent to another agent")
                         : answer.status();
    } else if (!started) {
      LODE_ASSIGN_OR_RETURN(pid_t pid, Spawn(holder_argv));
      started = pid;
      last = conn.status();
    } else {
      int status;
      if (::waitpid(*started, &status, WNOHANG) == *started) {
        return Status::IOError("the FUSE holder exited before it listened (" + socket_path + ")");
      }
      last = conn.status();
    }
    if (MonotonicNanos() > deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status HolderClient::Ask(const std::string& message) {
  LODE_RETURN_IF_ERROR(Send(socket_.get(), message));
  Result<std::string> answer = Receive(socket_.get());
  LODE_RETURN_IF_ERROR(answer.status());
  if (answer->compare("ok") == 0) return Status::Ok();
  return Status::IOError("the FUSE holder refused '" + message +
                         "': " + (answer->empty() ? std::string("it is gone") : *answer));
}

Status HolderClient::MarkInitialized() { return Send(socket_.get(), "initialized"); }

Status HolderClient::Release() {
  LODE_RETURN_IF_ERROR(Ask("release"));
  socket_.Reset();
  return Status::Ok();
}

Status HolderClient::Unmount() {
  LODE_RETURN_IF_ERROR(Ask("unmount"));
  socket_.Reset();
  return Status::Ok();
}

}  // namespace lode::fuse
