// Who may do what at keyd: principals, each recognised by how it connects
// (on the Unix socket by the peer's uid, optionally its gid; over TLS by
// the subject of its client certificate), with roles. A caller no
// principal matches has no role and gets nothing. The policy file is JSON:
//
//   {"principals": [
//     {"name": "ops",  "uid": 0,    "roles": ["admin"]},
//     {"name": "push", "uid": 1001, "roles": ["pusher"]},
//     {"name": "w1",   "uid": 1002, "roles": ["worker"]},
//     {"name": "w2",   "certificate": "CN=worker-2,O=fleet", "roles": ["worker"]},
//     {"name": "gc",   "uid": 1003, "gid": 1003, "roles": ["gc"]}]}
//
// A principal with the worker role is the worker of its name: grants name it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::keyd {

enum class Role { kAdmin, kPusher, kWorker, kGc };
const char* RoleName(Role role);

struct Principal {
  std::string name;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<std::string> certificate;  // subject, RFC 2253
  std::vector<Role> roles;
  bool Has(Role role) const;
};

// How a caller connected: its Unix credentials, or (over TLS) its
// certificate's subject.
struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::string certificate;  // "" on the Unix socket
};

class Policy {
 public:
  // InvalidArgument (naming the file and the fault) for a malformed policy:
  // unknown roles, duplicate names, two principals for one uid and gid.
  static Result<Policy> Parse(const std::string& json_text, const std::string& what);
  static Result<Policy> Load(const std::string& path);

  // The principal `peer` is, or nullptr.
  const Principal* Find(const Peer& peer) const;
  const std::vector<Principal>& principals() const { return principals_; }

 private:
  std::vector<Principal> principals_;
};

}  // namespace lode::keyd
