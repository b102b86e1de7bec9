#include "vm/relay.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "vm/run_spec.h"

namespace lode::vm {

void Relay::Run() {
  Clock::time_point started = Clock::now();
  while (!ready_) {
    std::vector<pollfd> fds;
    auto watch = [&](int fd, short events) {
      if (fd >= 0) fds.push_back({fd, events, 0});
    };
    watch(out_.get(), POLLIN);
    watch(err_.get(), POLLIN);
    watch(status_.get(), POLLIN);
    if (in_.valid() && stdin_open_) {
      watch(pending_.empty() ? 0 : in_.get(), pending_.empty() ? POLLIN : POLLOUT);
    }
    watch(signal_fd_, POLLIN);
    watch(qmp_open_ ? qmp_.fd() : -1, POLLIN);
    watch(qemu_.pidfd(), POLLIN);
    watch(ready_fd_, POLLIN);
    int timeout = TimeoutMs(started);
    if (timeout == 0) return;
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == qemu_.pidfd()) {
        Drain();
        return;
      }
      Handle(p.fd);
    }
  }
}

int Relay::TimeoutMs(Clock::time_point started) {
  std::optional<Clock::time_point> ready_at, give_up_at;
  if (mode_ == Mode::kSnapshot) {
    give_up_at = started + Seconds(ready_when_.timeout_seconds);
    if (ready_when_.after_seconds >= 0 && started_at_) {
      ready_at = *started_at_ + Seconds(ready_when_.after_seconds);
    }
  } else if (awaiting_reseed_) {
    give_up_at = started + std::chrono::seconds(kReseedTimeoutSeconds);
  }
  Clock::time_point now = Clock::now();
  if (ready_at && now >= *ready_at) ready_ = true;
  if (ready_) return 0;
  if (give_up_at && now >= *give_up_at) {
    timed_out_ = true;
    qemu_.Kill();
    return 0;
  }
  std::optional<Clock::time_point> next = give_up_at;
  if (ready_at && (!next || *ready_at < *next)) next = ready_at;
  if (!next) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::max<int64_t>(left, 1));
}

Clock::duration Relay::Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

void Relay::Handle(int fd) {
  if (qmp_open_ && fd == qmp_.fd()) return ReadQmp();
  if (fd == ready_fd_) {
    ready_ = true;
    return;
  }
  if (fd == out_.get()) return Forward(out_, out_to_);
  if (fd == err_.get()) return Forward(err_, err_to_);
  if (fd == status_.get()) return ReadStatus();
  if (fd == signal_fd_) return Stop();
  if (fd == 0) return ReadStdin();
  if (fd == in_.get()) return WriteStdin();
}

std::optional<std::string> Relay::ReadSome(int fd) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return std::string();
  if (n <= 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

void Relay::Forward(UniqueFd& from, const Output& to) {
  std::optional<std::string> bytes = ReadSome(from.get());
  if (!bytes) return from.Reset();
  to(*bytes);
  if (&from == &out_ && !ready_when_.marker.empty()) WatchForMarker(*bytes);
}

void Relay::WatchForMarker(const std::string& bytes) {
  const std::string& marker = ready_when_.marker;
  marker_window_ += bytes;
  if (marker_window_.find(marker) != std::string::npos) ready_ = true;
  if (marker_window_.size() >= marker.size()) {
    marker_window_.erase(0, marker_window_.size() - (marker.size() - 1));
  }
}

void Relay::ReadStatus() {
  std::optional<std::string> bytes = ReadSome(status_.get());
  if (!bytes) return status_.Reset();
  status_text_ += *bytes;
  for (size_t nl; (nl = status_text_.find('\n')) != std::string::npos;) {
    std::string event = status_text_.substr(0, nl);
    status_text_.erase(0, nl + 1);
    if (event == "start") started_at_ = Clock::now();
    if (event.rfind(kForkedEvent, 0) == 0) {
      stdin_open_ = mode_ == Mode::kRestore;
      awaiting_reseed_ = false;
    }
    Note(event);
  }
}

void Relay::ReadStdin() {
  std::optional<std::string> bytes = ReadSome(0);
  if (!bytes) {
    // Half-closed, not closed: QEMU drops what the socket still holds
    // when its peer hangs up before the guest opened the port; with only
    // our side shut it delivers the rest, then the guest reads EOF.
    in_shut_ = std::move(in_);
    ::shutdown(in_shut_.get(), SHUT_WR);
    return;
  }
  pending_ = std::move(*bytes);
}

void Relay::WriteStdin() {
  ssize_t n = ::send(in_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n < 0) {
    in_.Reset();
    pending_.clear();
    return;
  }
  pending_.erase(0, static_cast<size_t>(n));
}

void Relay::ReadQmp() {
  Result<std::vector<nlohmann::json>> events = qmp_.ReadEvents();
  if (!events.ok()) {
    qmp_open_ = false;
    return;
  }
  for (const nlohmann::json& e : *events) {
    if (e.value("event", "") != "BLOCK_IO_ERROR" || !io_error_.empty()) continue;
    nlohmann::json data = e.value("data", nlohmann::json::object());
    io_error_ = data.value("reason", std::string("I/O error"));
    qemu_.Kill();
  }
}

void Relay::Stop() {
  signalfd_siginfo info{};
  if (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
    stopped_by_ = static_cast<int>(info.ssi_signo);
  }
  qemu_.Kill();
}

void Relay::Drain() {
  while (out_.valid()) Forward(out_, out_to_);
  while (err_.valid()) Forward(err_, err_to_);
  while (status_.valid()) ReadStatus();
}

}  // namespace lode::vm
