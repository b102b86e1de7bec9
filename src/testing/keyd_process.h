// A `lode keyd` child process for tests: key directory, socket, policy and
// audit log under one directory (made traversable, so callers of other
// uids reach the socket). Stopped with SIGTERM on destruction.
#pragma once

#include <sys/types.h>

#include <string>

namespace lode::testing {

class KeydProcess {
 public:
  // `policy_json` is written to DIR/policy.json; `extra_args` go to
  // `lode keyd`.
  KeydProcess(std::string dir, const std::string& policy_json, std::string extra_args = "");
  ~KeydProcess();
  KeydProcess(const KeydProcess&) = delete;
  KeydProcess& operator=(const KeydProcess&) = delete;

  // Starts keyd and waits until its socket answers; false (with log()) if not.
  bool Start();
  // SIGTERM, wait; keyd's exit status (-1 when none ran or it died of a signal).
  int Stop();

  const std::string& socket() const { return socket_; }
  std::string key_dir() const { return dir_ + "/keys"; }
  std::string audit_log() const { return dir_ + "/audit.jsonl"; }
  std::string log() const;
  // The port of a listener ("TLS", "metrics"), as keyd last printed it
  // (0: none).
  int port(const std::string& listener) const;

 private:
  std::string dir_, socket_, extra_args_;
  pid_t pid_ = -1;
};

}  // namespace lode::testing
