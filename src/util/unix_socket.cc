#include "util/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace lode {

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "create socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::Unavailable("nothing listens on " + path);
  }
  return fd;
}

Result<UniqueFd> ListenUnix(const std::string& path, mode_t mode, int backlog) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  ::unlink(path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "create socket");
  // The mode is set as the file appears: no moment where others may connect.
  mode_t old = ::umask(~mode & 0777);
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (bound != 0) return Status::FromErrno(errno, "bind " + path);
  if (::listen(fd.get(), backlog) != 0) return Status::FromErrno(errno, "listen on " + path);
  return fd;
}

Status SendAll(int fd, std::string_view text, const std::string& what) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(errno, "send to " + what);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> ReceiveLine(int fd, size_t max_bytes, int timeout_ms, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos) {
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
        return Status::Unavailable(what + ": nothing received in time");
      }
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read from " + what);
    if (n == 0) break;
    line.append(buf, static_cast<size_t>(n));
    if (line.size() > max_bytes) return Status::InvalidArgument(what + ": message too long");
  }
  if (size_t nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  return line;
}

}  // namespace lode
