#include "keyd/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace lode::keyd {

Result<std::unique_ptr<Audit>> Audit::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "open audit log " + path);
  return std::unique_ptr<Audit>(new Audit(std::move(fd)));
}

void Audit::Record(const Decision& d) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::json line = {
      {"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
      {"principal", d.principal.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.principal)},
      {"op", d.op},
      {"allowed", d.allowed}};
  if (d.peer.certificate.empty()) {
    line["uid"] = d.peer.uid;
    line["pid"] = d.peer.pid;
  } else {
    line["certificate"] = d.peer.certificate;
  }
  if (!d.tenant.empty()) line["tenant"] = d.tenant;
  if (!d.subject.empty()) line["subject"] = d.subject;
  if (!d.reason.empty()) line["reason"] = d.reason;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  ++decisions_[{d.op, d.allowed}];
  // One write per line: O_APPEND keeps lines whole.
  (void)!::write(fd_.get(), text.data(), text.size());
}

std::string Audit::Metrics() const {
  std::string out =
      "# HELP lode_keyd_decisions_total Requests keyd decided, by operation and outcome.\n"
      "# TYPE lode_keyd_decisions_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, count] : decisions_) {
    out += "lode_keyd_decisions_total{op=\"" + key.first + "\",allowed=\"" +
           (key.second ? "true" : "false") + "\"} " + std::to_string(count) + "\n";
  }
  return out;
}

}  // namespace lode::keyd
