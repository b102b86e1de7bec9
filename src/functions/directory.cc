#include "functions/directory.h"

#include <algorithm>

#include "catalog/catalog.h"
#include "util/sha256.h"
#include "util/text.h"

namespace lode::functions {

namespace {
constexpr auto kFreshFor = std::chrono::seconds(1);
}  // namespace

FunctionDirectory::FunctionDirectory(std::shared_ptr<store::ObjectStore> store,
                                     std::shared_ptr<keys::KeyService> keys,
                                     std::vector<std::string> tenants, std::string region)
    : store_(std::move(store)),
      keys_(std::move(keys)),
      tenants_(std::move(tenants)),
      region_(std::move(region)) {}

Result<std::optional<FunctionEntry>> FunctionDirectory::Read(const std::string& tenant,
                                                             const std::string& name) {
  LODE_ASSIGN_OR_RETURN(std::optional<catalog::FunctionConfig> config,
                        catalog::GetFunction(*store_, *keys_, tenant, name));
  if (!config) return std::optional<FunctionEntry>();
  FunctionEntry f;
  f.key = tenant + "/" + name;
  if (catalog::IsLocalImage(config->image)) {
    f.image_ref = config->image;
  } else {
    LODE_ASSIGN_OR_RETURN(store::ImageRef ref,
                          catalog::ResolveRef(*store_, tenant, catalog::FunctionImageTag(name)));
    f.image_ref = ref.ToString();
  }
  if (config->snapstart) {
    Result<store::ImageRef> snapshot =
        catalog::ResolveRef(*store_, tenant, catalog::FunctionSnapshotTag(name));
    if (snapshot.ok()) {
      f.snapshot_ref = snapshot->ToString();
    } else if (snapshot.status().code() != StatusCode::kNotFound) {
      return snapshot.status();
    }
  }
  f.version = ToHex(
      Sha256::Of(catalog::EncodeFunction(*config) + "\n" + f.image_ref + "\n" + f.snapshot_ref));
  f.arn = "arn:aws:lambda:" + region_ + ":" + tenant + ":function:" + name;
  f.config = std::move(*config);
  f.read_at = std::chrono::steady_clock::now();
  return std::optional(std::move(f));
}

Result<FunctionEntry> FunctionDirectory::Find(const std::string& text) {
  // NAME, NAME:QUALIFIER, or arn:aws:lambda:REGION:TENANT:function:NAME[:QUALIFIER]
  std::vector<std::string> parts = Split(text, ':');
  std::string tenant = tenants_.empty() ? "" : tenants_[0], name, qualifier;
  if (parts.size() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function") {
    tenant = parts[4];
    name = parts[6];
    qualifier = parts.size() > 7 ? parts[7] : "";
  } else if (parts.size() <= 2) {
    name = parts.empty() ? "" : parts[0];
    qualifier = parts.size() == 2 ? parts[1] : "";
  }
  Status not_found = Status::NotFound("Function not found: arn:aws:lambda:" + region_ + ":" +
                                      tenant + ":function:" + Excerpt(text, 140));
  bool served = std::find(tenants_.begin(), tenants_.end(), tenant) != tenants_.end();
  if (!served || !catalog::ValidateFunctionName(name).ok() ||
      (!qualifier.empty() && qualifier != "$LATEST")) {
    return not_found;
  }
  std::string key = tenant + "/" + name;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && std::chrono::steady_clock::now() - it->second.read_at < kFreshFor) {
      return it->second;
    }
  }
  Result<std::optional<FunctionEntry>> read = Read(tenant, name);
  if (!read.ok()) return read.status().WithContext("function " + key);
  if (!*read) return not_found;
  std::lock_guard lock(mu_);
  cache_[key] = **read;
  return **read;
}

}  // namespace lode::functions
