#include "vm/guest_runtime_relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace lode::vm {
Result<GuestRuntimeRelay> GuestRuntimeRelay::Start(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "runtime API socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(kRuntimeApiPort);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return Status::FromErrno(errno, "listen on 127.0.0.1:9001 for the runtime API");
  }
  return GuestRuntimeRelay(std::move(fd), port);
}

void GuestRuntimeRelay::AddPollFds(std::vector<pollfd>& fds) const {
  fds.push_back({listening_.get(), POLLIN, 0});
  fds.push_back({port_, POLLIN, 0});
  for (const auto& [id, c] : connections_) fds.push_back({c.fd.get(), POLLIN, 0});
}

void GuestRuntimeRelay::Serve(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (p.revents == 0) continue;
    if (p.fd == listening_.get()) {
      Accept();
    } else if (p.fd == port_) {
      ReadPort();
    } else {
      for (auto& [id, c] : connections_) {
        if (c.fd.get() == p.fd) {
          ReadConnection(id);
          break;
        }
      }
    }
  }
}

void GuestRuntimeRelay::Replay() {
  for (auto& [id, c] : connections_) {
    if (!c.unanswered.empty()) {
      for (size_t at = 0; at < c.unanswered.size(); at += kMaxFrameBytes) {
        Send(id, FrameKind::kData, c.unanswered.substr(at, kMaxFrameBytes));
      }
    }
  }
}

void GuestRuntimeRelay::Accept() {
  UniqueFd fd(::accept4(listening_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return;
  // An answer arrives from the host in pieces (headers, then body): Nagle
  // would hold each later piece until the runtime's delayed ACK, 40 ms.
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  connections_[next_id_++] = Connection{std::move(fd), ""};
}

void GuestRuntimeRelay::ReadConnection(uint32_t id) {
  Connection& c = connections_[id];
  char buf[kMaxFrameBytes];
  ssize_t n = ::read(c.fd.get(), buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    Send(id, FrameKind::kClose, "");
    connections_.erase(id);
    return;
  }
  std::string bytes(buf, static_cast<size_t>(n));
  c.unanswered += bytes;
  Send(id, FrameKind::kData, bytes);
}

void GuestRuntimeRelay::ReadPort() {
  char buf[65536];
  ssize_t n = ::read(port_, buf, sizeof(buf));
  if (n <= 0) return;
  from_host_.append(buf, static_cast<size_t>(n));
  Result<std::vector<Frame>> frames = TakeFrames(from_host_);
  if (!frames.ok()) {  // the host speaks the protocol: never expected
    from_host_.clear();
    return;
  }
  for (Frame& f : *frames) {
    auto it = connections_.find(f.connection);
    if (it == connections_.end()) continue;  // closed meanwhile
    if (f.kind == FrameKind::kClose || !WriteAll(it->second.fd.get(), f.bytes)) {
      connections_.erase(it);
      continue;
    }
    it->second.unanswered.clear();
  }
}

void GuestRuntimeRelay::Send(uint32_t id, FrameKind kind, const std::string& bytes) {
  (void)WriteAll(port_, EncodeFrame({id, kind, bytes}));
}

}  // namespace lode::vm
