#include "vm/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "util/unix_socket.h"

namespace lode::vm {

using Clock = std::chrono::steady_clock;

Result<QmpClient> QmpClient::Connect(const std::string& socket, std::chrono::milliseconds timeout) {
  LODE_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(socket));
  auto deadline = Clock::now() + timeout;
  while (true) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      QmpClient client(std::move(fd));
      LODE_ASSIGN_OR_RETURN(nlohmann::json greeting, client.Next(timeout));
      if (!greeting.contains("QMP")) return Status::IOError("QMP: no greeting");
      LODE_RETURN_IF_ERROR(client.Execute("qmp_capabilities", {}, timeout).status());
      return client;
    }
    if (Clock::now() > deadline) return Status::Unavailable("QEMU's QMP socket did not open");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status QmpClient::Receive(int timeout_ms) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (timeout_ms >= 0 && ::poll(&p, 1, timeout_ms) <= 0) {
    return Status::Unavailable("QMP: no answer from QEMU");
  }
  char buf[4096];
  ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), timeout_ms < 0 ? MSG_DONTWAIT : 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Status::Ok();
  if (n <= 0) return Status::Unavailable("QMP: QEMU closed the connection");
  partial_.append(buf, static_cast<size_t>(n));
  for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
    nlohmann::json j = nlohmann::json::parse(partial_.substr(0, nl), nullptr, false);
    partial_.erase(0, nl + 1);
    if (j.is_object()) objects_.push_back(std::move(j));
  }
  return Status::Ok();
}

Result<nlohmann::json> QmpClient::Next(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (objects_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::Unavailable("QMP: no answer from QEMU");
    LODE_RETURN_IF_ERROR(Receive(static_cast<int>(left.count())));
  }
  nlohmann::json j = std::move(objects_.front());
  objects_.pop_front();
  return j;
}

Result<nlohmann::json> QmpClient::Execute(const std::string& command,
                                          const nlohmann::json& arguments,
                                          std::chrono::milliseconds timeout) {
  nlohmann::json request = {{"execute", command}};
  if (!arguments.empty()) request["arguments"] = arguments;
  std::string line = request.dump() + "\n";
  if (::send(fd_.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(line.size())) {
    return Status::FromErrno(errno, "QMP " + command);
  }
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    LODE_ASSIGN_OR_RETURN(nlohmann::json answer,
                          Next(std::max(left, std::chrono::milliseconds(1))));
    if (answer.contains("event")) {
      events_.push_back(std::move(answer));
    } else if (answer.contains("error")) {
      return Status::Unavailable("QEMU refused " + command + ": " +
                                 answer["error"].value("desc", answer.dump()));
    } else if (answer.contains("return")) {
      return answer["return"];
    }
  }
}

Result<std::vector<nlohmann::json>> QmpClient::ReadEvents() {
  LODE_RETURN_IF_ERROR(Receive(-1));
  std::vector<nlohmann::json> events = std::move(events_);
  events_.clear();
  for (nlohmann::json& j : objects_) {
    if (j.contains("event")) events.push_back(std::move(j));
  }
  objects_.clear();
  return events;
}

}  // namespace lode::vm
