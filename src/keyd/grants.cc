#include "keyd/grants.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "keys/key_service.h"
#include "util/file.h"

namespace lode::keyd {
namespace {

using nlohmann::json;

json ToJson(const Grant& g) {
  return {{"tenant", g.tenant},     {"worker", g.worker}, {"image", g.image},
          {"function", g.function}, {"label", g.label},   {"created", g.created},
          {"expires", g.expires}};
}

Grant FromJson(const json& j) {
  Grant g;
  g.tenant = j.at("tenant").get<std::string>();
  g.worker = j.at("worker").get<std::string>();
  g.image = j.at("image").get<std::string>();
  g.function = j.value("function", "");
  g.label = j.value("label", "");
  g.created = j.value("created", int64_t{0});
  g.expires = j.value("expires", int64_t{0});
  return g;
}

bool SameSubject(const Grant& a, const Grant& b) {
  return a.tenant == b.tenant && a.worker == b.worker && a.image == b.image &&
         a.function == b.function;
}

bool Plain(const std::string& s, bool slash_allowed) {
  if (s.empty() || s.size() > 255) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           (slash_allowed && c == '/');
  });
}

}  // namespace

Status ValidateGrant(const Grant& g) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(g.tenant));
  if (!Plain(g.worker, false)) return Status::InvalidArgument("bad worker name '" + g.worker + "'");
  if (!Plain(g.image, true) || std::count(g.image.begin(), g.image.end(), '/') != 1) {
    return Status::InvalidArgument("bad image '" + g.image + "' (ROOT/MANIFEST-ID)");
  }
  if (!g.function.empty() && !Plain(g.function, false)) {
    return Status::InvalidArgument("bad function name '" + g.function + "'");
  }
  return Status::Ok();
}

Result<std::unique_ptr<GrantTable>> GrantTable::Open(const std::string& path) {
  std::unique_ptr<GrantTable> table(new GrantTable(path));
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) return table;
  LODE_RETURN_IF_ERROR(text.status());
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("grants") || !j["grants"].is_array()) {
    return Status::Corruption("grant file " + path + " is not keyd's");
  }
  try {
    for (const json& g : j["grants"]) table->grants_.push_back(FromJson(g));
  } catch (const json::exception& e) {
    return Status::Corruption("grant file " + path + ": " + e.what());
  }
  return table;
}

Status GrantTable::SaveLocked() const {
  json list = json::array();
  for (const Grant& g : grants_) list.push_back(ToJson(g));
  return WriteFileAtomically(path_, json{{"grants", list}}.dump(1) + "\n");
}

Status GrantTable::Add(const Grant& grant) {
  std::lock_guard lock(mu_);
  auto same = std::find_if(grants_.begin(), grants_.end(),
                           [&](const Grant& g) { return SameSubject(g, grant); });
  if (same != grants_.end()) {
    *same = grant;
  } else {
    grants_.push_back(grant);
  }
  return SaveLocked();
}

Result<int> GrantTable::Revoke(const std::string& tenant, const std::string& worker,
                               const std::string& image, const std::string& label) {
  std::lock_guard lock(mu_);
  size_t before = grants_.size();
  std::erase_if(grants_, [&](const Grant& g) {
    return g.tenant == tenant && g.worker == worker &&
           ((!image.empty() && g.image == image) || (!label.empty() && g.label == label));
  });
  int removed = static_cast<int>(before - grants_.size());
  if (removed > 0) LODE_RETURN_IF_ERROR(SaveLocked());
  return removed;
}

Result<int> GrantTable::Follow(const std::string& tenant, const std::string& from,
                               const std::string& to) {
  std::lock_guard lock(mu_);
  std::vector<Grant> moved;
  for (const Grant& g : grants_) {
    if (g.tenant == tenant && g.image == from) {
      Grant copy = g;
      copy.image = to;
      moved.push_back(copy);
    }
  }
  for (const Grant& g : moved) {
    if (std::none_of(grants_.begin(), grants_.end(),
                     [&](const Grant& have) { return SameSubject(have, g); })) {
      grants_.push_back(g);
    }
  }
  if (!moved.empty()) LODE_RETURN_IF_ERROR(SaveLocked());
  return static_cast<int>(moved.size());
}

std::vector<Grant> GrantTable::List() const {
  std::lock_guard lock(mu_);
  return grants_;
}

std::optional<Grant> GrantTable::Allowing(const std::string& worker,
                                          const keys::SealedObject& object, int64_t now) const {
  std::lock_guard lock(mu_);
  for (const Grant& g : grants_) {
    if (g.worker != worker || g.tenant != object.tenant || !g.Live(now)) continue;
    bool covers = object.kind == keys::SealedKind::kFunction ? g.function == object.subject
                                                             : g.image == object.subject;
    if (covers) return g;
  }
  return std::nullopt;
}

}  // namespace lode::keyd
