#include "keyd/service.h"

#include <sodium.h>

#include <chrono>
#include <initializer_list>

#include "util/base64.h"
#include "util/sha256.h"

namespace lode::keyd {
namespace {

using nlohmann::json;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Text(const json& request, const char* field) {
  return request.at(field).get<std::string>();
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  return ToHex(bytes);
}

json GrantJson(const Grant& g) {
  return {{"tenant", g.tenant},     {"worker", g.worker}, {"image", g.image},
          {"function", g.function}, {"label", g.label},   {"created", g.created},
          {"expires", g.expires}};
}

}  // namespace

struct Service::Call {
  const Principal* principal = nullptr;
  json request;
  const std::string* payload = nullptr;
  Decision decision;

  bool Has(std::initializer_list<Role> roles) const {
    if (principal == nullptr) return false;
    for (Role r : roles) {
      if (principal->Has(r)) return true;
    }
    return false;
  }
  // Refuses the call: the answer and the audit record say why.
  json Refuse(const std::string& why) {
    decision.allowed = false;
    decision.reason = why;
    return keys::ErrorAnswer(Status::Rejected(why));
  }
  json RefuseRole(std::initializer_list<Role> roles) {
    std::string names;
    for (Role r : roles) names += std::string(names.empty() ? "" : " or ") + RoleName(r);
    std::string caller = decision.peer.certificate.empty()
                             ? "uid " + std::to_string(decision.peer.uid)
                             : "certificate " + decision.peer.certificate;
    std::string who =
        principal ? "principal " + principal->name : caller + " (no principal in keyd's policy)";
    return Refuse(decision.op + " needs the " + names + " role; " + who + " has not");
  }
  // The answer to an allowed call: `reply` when `result` is Ok.
  json Done(const Status& result, json reply) {
    decision.allowed = result.ok();
    if (!result.ok()) {
      decision.reason = result.message();
      return keys::ErrorAnswer(result);
    }
    reply["ok"] = true;
    return reply;
  }
};

Service::Service(std::unique_ptr<keys::KeyService> keys, Policy policy,
                 std::unique_ptr<GrantTable> grants, std::unique_ptr<Audit> audit)
    : keys_(std::move(keys)),
      policy_(std::move(policy)),
      grants_(std::move(grants)),
      audit_(std::move(audit)) {}

std::string Service::Answer(const Peer& peer, const keys::Request& request) {
  Call call;
  call.principal = policy_.Find(peer);
  call.decision.peer = peer;
  if (call.principal) call.decision.principal = call.principal->name;
  call.request = request.fields;
  call.payload = &request.payload;
  json reply;
  if (call.request.is_discarded() || !call.request.is_object() || !call.request.contains("op") ||
      !call.request["op"].is_string()) {
    call.decision.op = "?";
    reply = call.Refuse("request is not a JSON object with an op");
  } else {
    call.decision.op = call.request["op"].get<std::string>().substr(0, 32);
    try {
      reply = Dispatch(call);
    } catch (const json::exception& e) {
      call.decision.allowed = false;
      call.decision.reason = "malformed request";
      reply = keys::ErrorAnswer(Status::InvalidArgument(std::string("bad request: ") + e.what()));
    }
  }
  audit_->Record(call.decision);
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Service::Dispatch(Call& call) {
  const json& r = call.request;
  Decision& d = call.decision;
  const std::string& op = d.op;
  if (op == "whoami") {
    json roles = json::array();
    if (call.principal) {
      for (Role role : call.principal->roles) roles.push_back(RoleName(role));
    }
    return call.Done(Status::Ok(), {{"principal", d.principal}, {"roles", roles}});
  }
  if (op == "public_key") {
    d.tenant = Text(r, "tenant");
    if (!call.Has({Role::kAdmin, Role::kPusher, Role::kWorker, Role::kGc})) {
      return call.RefuseRole({Role::kAdmin, Role::kPusher, Role::kWorker, Role::kGc});
    }
    Result<keys::PublicKey> key = keys_->TenantPublicKey(d.tenant);
    return call.Done(key.status(), {{"key", key.ok() ? Hex(*key) : ""}});
  }
  if (op == "tenants") {
    if (!call.Has({Role::kAdmin, Role::kPusher, Role::kGc})) {
      return call.RefuseRole({Role::kAdmin, Role::kPusher, Role::kGc});
    }
    Result<std::vector<std::string>> tenants = keys_->ListTenants();
    return call.Done(tenants.status(),
                     {{"tenants", tenants.ok() ? json(*tenants) : json::array()}});
  }
  if (op == "create_tenant") {
    d.tenant = Text(r, "tenant");
    if (!call.Has({Role::kAdmin})) return call.RefuseRole({Role::kAdmin});
    Result<keys::PublicKey> key = keys_->CreateTenant(d.tenant);
    return call.Done(key.status(), {{"key", key.ok() ? Hex(*key) : ""}});
  }
  if (op == "salt") {
    d.subject = Text(r, "id");
    if (!call.Has({Role::kPusher, Role::kGc})) return call.RefuseRole({Role::kPusher, Role::kGc});
    Result<keys::SaltId> id = keys::SaltId::Parse(d.subject);
    if (!id.ok()) return call.Done(id.status(), {});
    Result<keys::Salt> salt = keys_->GetOrCreateSalt(*id);
    return call.Done(salt.status(), {{"salt", salt.ok() ? Hex(*salt) : ""}});
  }
  if (op == "salt_epoch" || op == "rotate_salt") {
    std::string root = Text(r, "root"), domain = Text(r, "domain");
    d.subject = root + "." + domain;
    bool rotate = op == "rotate_salt";
    if (rotate && !call.Has({Role::kAdmin})) return call.RefuseRole({Role::kAdmin});
    if (!rotate && !call.Has({Role::kAdmin, Role::kPusher, Role::kGc})) {
      return call.RefuseRole({Role::kAdmin, Role::kPusher, Role::kGc});
    }
    Result<uint32_t> epoch =
        rotate ? keys_->RotateSalt(root, domain) : keys_->CurrentSaltEpoch(root, domain);
    return call.Done(epoch.status(), {{"epoch", epoch.ok() ? *epoch : 0}});
  }
  if (op == "open") return Open(call);
  if (op == "grant" || op == "revoke" || op == "grants" || op == "follow")
    return ManageGrants(call);
  return call.Refuse("unknown op '" + op + "'");
}

json Service::Open(Call& call) {
  const json& r = call.request;
  Decision& d = call.decision;
  Result<keys::SealedKind> kind = keys::ParseSealedKind(Text(r, "kind"));
  if (!kind.ok()) return call.Done(kind.status(), {});
  d.tenant = Text(r, "tenant");
  std::string subject = Text(r, "subject");
  d.subject = std::string(keys::SealedKindName(*kind)) + " " + subject;
  const std::string& sealed = *call.payload;
  keys::SealedObject object{
      *kind, d.tenant, subject,
      std::span(reinterpret_cast<const uint8_t*>(sealed.data()), sealed.size())};
  if (call.Has({Role::kGc}) && *kind == keys::SealedKind::kManifest) {
    // gc migrates every image: it reads manifests, nothing else.
  } else if (call.Has({Role::kWorker})) {
    std::optional<Grant> grant = grants_->Allowing(call.principal->name, object, NowSeconds());
    if (!grant) {
      return call.Refuse("worker " + call.principal->name + " holds no live grant for tenant " +
                         d.tenant + "'s " + d.subject + " (lode grant)");
    }
    d.reason = "grant " + grant->label;
  } else {
    return call.RefuseRole({Role::kWorker, Role::kGc});
  }
  Result<keys::DataKey> key = keys_->OpenDataKey(object);
  json reply;
  if (key.ok()) {
    reply["key"] = Base64Encode(std::string(key->begin(), key->end()));
    sodium_memzero(key->data(), key->size());
  }
  return call.Done(key.status(), std::move(reply));
}

json Service::ManageGrants(Call& call) {
  const json& r = call.request;
  Decision& d = call.decision;
  if (d.op == "follow") {
    d.tenant = Text(r, "tenant");
    std::string from = Text(r, "from"), to = Text(r, "to");
    d.subject = from + " -> " + to;
    if (!call.Has({Role::kGc})) return call.RefuseRole({Role::kGc});
    Result<int> n = grants_->Follow(d.tenant, from, to);
    return call.Done(n.status(), {{"followed", n.ok() ? *n : 0}});
  }
  if (!call.Has({Role::kAdmin})) return call.RefuseRole({Role::kAdmin});
  if (d.op == "grants") {
    json list = json::array();
    for (const Grant& g : grants_->List()) list.push_back(GrantJson(g));
    return call.Done(Status::Ok(), {{"grants", list}});
  }
  d.tenant = Text(r, "tenant");
  std::string worker = Text(r, "worker");
  std::string image = r.value("image", "");
  std::string label = r.value("label", image);
  d.subject = "worker " + worker + " image " + image + " (" + label + ")";
  if (d.op == "revoke") {
    Result<int> n = grants_->Revoke(d.tenant, worker, image, label);
    return call.Done(n.status(), {{"revoked", n.ok() ? *n : 0}});
  }
  Grant g;
  g.tenant = d.tenant;
  g.worker = worker;
  g.image = image;
  g.function = r.value("function", "");
  g.label = label;
  g.created = NowSeconds();
  int64_t ttl = r.value("ttl_seconds", int64_t{0});
  g.expires = ttl > 0 ? g.created + ttl : 0;
  Status valid = ValidateGrant(g);
  if (!valid.ok()) return call.Done(valid, {});
  return call.Done(grants_->Add(g), {{"grant", GrantJson(g)}});
}

}  // namespace lode::keyd
