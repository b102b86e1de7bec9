#include "keyd/policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/file.h"

namespace lode::keyd {
namespace {

using nlohmann::json;

constexpr std::pair<Role, const char*> kRoles[] = {{Role::kAdmin, "admin"},
                                                   {Role::kPusher, "pusher"},
                                                   {Role::kWorker, "worker"},
                                                   {Role::kGc, "gc"}};

Result<Role> ParseRole(const std::string& name) {
  for (const auto& [role, text] : kRoles) {
    if (name == text) return role;
  }
  return Status::InvalidArgument("unknown role '" + name + "' (admin, pusher, worker, gc)");
}

Result<Principal> ParsePrincipal(const json& j) {
  Principal p;
  if (!j.is_object()) return Status::InvalidArgument("a principal is not an object");
  p.name = j.at("name").get<std::string>();
  if (p.name.empty() || p.name.size() > 64 ||
      !std::all_of(p.name.begin(), p.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return Status::InvalidArgument("bad principal name '" + p.name + "'");
  }
  if (j.contains("uid")) p.uid = j.at("uid").get<uid_t>();
  if (j.contains("gid")) p.gid = j.at("gid").get<gid_t>();
  if (j.contains("certificate")) p.certificate = j.at("certificate").get<std::string>();
  if (p.certificate && (p.uid || p.gid || p.certificate->empty())) {
    return Status::InvalidArgument("principal " + p.name +
                                   " names a certificate subject and a uid or gid: one of them");
  }
  if (!p.uid && !p.gid && !p.certificate) {
    return Status::InvalidArgument("principal " + p.name +
                                   " names no uid, gid or certificate to recognise");
  }
  for (const json& r : j.at("roles")) {
    LODE_ASSIGN_OR_RETURN(Role role, ParseRole(r.get<std::string>()));
    p.roles.push_back(role);
  }
  return p;
}

}  // namespace

const char* RoleName(Role role) {
  for (const auto& [r, text] : kRoles) {
    if (r == role) return text;
  }
  return "?";
}

bool Principal::Has(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Result<Policy> Policy::Parse(const std::string& json_text, const std::string& what) {
  Policy policy;
  auto bad = [&](const std::string& why) { return Status::InvalidArgument(what + ": " + why); };
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("principals") ||
      !j["principals"].is_array()) {
    return bad("not a JSON object with a \"principals\" array");
  }
  try {
    for (const json& entry : j["principals"]) {
      Result<Principal> p = ParsePrincipal(entry);
      if (!p.ok()) return bad(p.status().message());
      for (const Principal& other : policy.principals_) {
        if (other.name == p->name) return bad("principal " + p->name + " appears twice");
        if (other.uid == p->uid && other.gid == p->gid && other.certificate == p->certificate) {
          return bad("principals " + other.name + " and " + p->name + " are the same caller");
        }
      }
      policy.principals_.push_back(std::move(*p));
    }
  } catch (const json::exception& e) {
    return bad(std::string("malformed principal: ") + e.what());
  }
  return policy;
}

Result<Policy> Policy::Load(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return Parse(text, path);
}

const Principal* Policy::Find(const Peer& peer) const {
  // The most specific match wins: uid and gid, then uid, then gid.
  const Principal* best = nullptr;
  int best_score = 0;
  for (const Principal& p : principals_) {
    if (!peer.certificate.empty() || p.certificate) {
      if (p.certificate == peer.certificate) return &p;
      continue;
    }
    if ((p.uid && *p.uid != peer.uid) || (p.gid && *p.gid != peer.gid)) continue;
    int score = (p.uid ? 2 : 0) + (p.gid ? 1 : 0);
    if (score > best_score) best = &p, best_score = score;
  }
  return best;
}

}  // namespace lode::keyd
