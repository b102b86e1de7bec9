// keyd's audit trail: one JSON line per decision (who, what, when, allowed
// or why not), appended to a file, and Prometheus counters of the same
// decisions. Never holds a secret: requests are logged by op, tenant and
// subject only. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "keyd/policy.h"
#include "util/file.h"
#include "util/status.h"

namespace lode::keyd {

struct Decision {
  Peer peer;
  std::string principal;  // "" when the caller is nobody in the policy
  std::string op;
  std::string tenant;
  std::string subject;  // the object, image, salt or grant the op is about
  bool allowed = false;
  std::string reason;  // why not (or what was done)
};

class Audit {
 public:
  // Appends to `path` (created 0600).
  static Result<std::unique_ptr<Audit>> Open(const std::string& path);
  void Record(const Decision& d);
  // Counters of decisions, in Prometheus text format.
  std::string Metrics() const;

 private:
  explicit Audit(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, bool>, uint64_t> decisions_;  // (op, allowed)
};

}  // namespace lode::keyd
