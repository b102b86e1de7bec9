#include "vm/runtime_relay.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "util/unix_socket.h"
#include "vm/qemu_process.h"
#include "vm/runtime_port.h"

namespace lode::vm {

Result<std::unique_ptr<RuntimeRelay>> RuntimeRelay::Start(UniqueFd port, std::string api_socket) {
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return Status::FromErrno(errno, "eventfd");
  std::unique_ptr<RuntimeRelay> relay(
      new RuntimeRelay(std::move(port), std::move(api_socket), std::move(stop)));
  relay->thread_ = std::thread([r = relay.get()] { r->Run(); });
  return relay;
}

RuntimeRelay::RuntimeRelay(UniqueFd port, std::string api_socket, UniqueFd stop)
    : port_(std::move(port)), api_socket_(std::move(api_socket)), stop_(std::move(stop)) {}

RuntimeRelay::~RuntimeRelay() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

std::string RuntimeRelay::error() const { return ended_ ? error_ : ""; }

void RuntimeRelay::Run() {
  while (true) {
    std::vector<pollfd> fds = {{stop_.get(), POLLIN, 0}, {port_.get(), POLLIN, 0}};
    std::vector<uint32_t> ids;
    for (const auto& [id, fd] : connections_) {
      fds.push_back({fd.get(), POLLIN, 0});
      ids.push_back(id);
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;
    if (fds[1].revents != 0 && !ReadPort()) break;
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents != 0) ReadApi(ids[i - 2]);
    }
  }
  ended_ = true;
}

// False when the guest's side ended or broke the protocol.
bool RuntimeRelay::ReadPort() {
  char buf[65536];
  ssize_t n = ::read(port_.get(), buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) return false;
  from_guest_.append(buf, static_cast<size_t>(n));
  Result<std::vector<Frame>> frames = TakeFrames(from_guest_);
  if (!frames.ok()) {
    error_ = frames.status().message();
    return false;
  }
  for (Frame& f : *frames) {
    auto it = connections_.find(f.connection);
    if (f.kind == FrameKind::kClose) {
      if (it != connections_.end()) connections_.erase(it);
      continue;
    }
    if (it == connections_.end()) {
      Result<UniqueFd> api = ConnectUnix(api_socket_);
      if (!api.ok()) {
        SendToGuest(f.connection, true, "");
        continue;
      }
      it = connections_.emplace(f.connection, std::move(*api)).first;
    }
    if (!WriteAll(it->second.get(), f.bytes)) {
      connections_.erase(it);
      SendToGuest(f.connection, true, "");
    }
  }
  return true;
}

void RuntimeRelay::ReadApi(uint32_t id) {
  UniqueFd& fd = connections_[id];
  char buf[kMaxFrameBytes];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    connections_.erase(id);
    SendToGuest(id, true, "");
    return;
  }
  SendToGuest(id, false, std::string(buf, static_cast<size_t>(n)));
}

void RuntimeRelay::SendToGuest(uint32_t id, bool close, const std::string& bytes) {
  std::string frame = EncodeFrame({id, close ? FrameKind::kClose : FrameKind::kData, bytes});
  (void)WriteAll(port_.get(), frame);
}

}  // namespace lode::vm
