// keyd, the key service as a daemon: the only holder of tenant secret keys
// and salts. Each request comes from an authenticated peer; the policy maps
// it to a principal and its roles, grants say which images a worker may
// open, and every decision is audited. The protocol is JSON lines: one
// request object per line, one answer object per line, many per connection
// (docs/formats/keyd.md):
//
//   {"op": "open", "kind": "manifest", "tenant": "acme",
//    "subject": "root-0/<id>", "payload_bytes": N}, then the N bytes of the
//    sealed object
//   -> {"ok": true, "key": "<base64 data key>"}
//   -> {"ok": false, "code": 6, "error": "one line"}
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "keyd/audit.h"
#include "keyd/grants.h"
#include "keyd/policy.h"
#include "keys/key_service.h"
#include "keys/keyd_protocol.h"

namespace lode::keyd {

class Service {
 public:
  Service(std::unique_ptr<keys::KeyService> keys, Policy policy, std::unique_ptr<GrantTable> grants,
          std::unique_ptr<Audit> audit);

  // The answer line (without its newline) to one request from `peer`.
  std::string Answer(const Peer& peer, const keys::Request& request);
  std::string Metrics() const { return audit_->Metrics(); }

 private:
  struct Call;
  nlohmann::json Dispatch(Call& call);
  nlohmann::json Open(Call& call);
  nlohmann::json ManageGrants(Call& call);

  std::unique_ptr<keys::KeyService> keys_;
  Policy policy_;
  std::unique_ptr<GrantTable> grants_;
  std::unique_ptr<Audit> audit_;
};

}  // namespace lode::keyd
