#include "catalog/function.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "catalog/catalog.h"
#include "manifest/manifest.h"
#include "util/json_int.h"

namespace lode::catalog {
namespace {

using nlohmann::json;

constexpr int kFormatVersion = 1;              // FROZEN: stored functions carry it
constexpr size_t kMaxEnvironmentBytes = 4096;  // Lambda's limit

// Set by the host for every sandbox; a function cannot override them.
const std::set<std::string>& ReservedVariables() {
  static const std::set<std::string> reserved = {
      "_HANDLER",
      "_X_AMZN_TRACE_ID",
      "AWS_DEFAULT_REGION",
      "AWS_REGION",
      "AWS_EXECUTION_ENV",
      "AWS_LAMBDA_FUNCTION_NAME",
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
      "AWS_LAMBDA_FUNCTION_VERSION",
      "AWS_LAMBDA_INITIALIZATION_TYPE",
      "AWS_LAMBDA_LOG_GROUP_NAME",
      "AWS_LAMBDA_LOG_STREAM_NAME",
      "AWS_ACCESS_KEY",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_LAMBDA_RUNTIME_API",
      "LAMBDA_TASK_ROOT",
      "LAMBDA_RUNTIME_DIR",
  };
  return reserved;
}

bool IsVariableName(const std::string& name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

Status Bad(const std::string& what) { return Status::InvalidArgument("function: " + what); }

}  // namespace

Status ValidateFunctionName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("bad function name '" + name +
                                 "' (1 to 64 letters, digits, '-' and '_')");
}

Status ValidateFunction(const FunctionConfig& f) {
  LODE_RETURN_IF_ERROR(ValidateFunctionName(f.name));
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(f.tenant));
  if (f.image.empty()) return Bad("no image");
  if (f.handler.size() > 128) return Bad("the handler is longer than 128 characters");
  if (f.memory_mib < 128 || f.memory_mib > 10240) {
    return Bad("memory must be 128 to 10240 MiB, not " + std::to_string(f.memory_mib));
  }
  if (f.timeout_seconds < 1 || f.timeout_seconds > 900) {
    return Bad("the timeout must be 1 to 900 seconds, not " + std::to_string(f.timeout_seconds));
  }
  size_t env_bytes = 0;
  for (const auto& [name, value] : f.environment) {
    if (!IsVariableName(name)) return Bad("bad environment variable name '" + name + "'");
    if (ReservedVariables().count(name) != 0) {
      return Bad("environment variable " + name + " is set by the host and cannot be changed");
    }
    env_bytes += name.size() + value.size();
  }
  if (env_bytes > kMaxEnvironmentBytes) return Bad("the environment is larger than 4 KB");
  if (f.network != "default" && f.network != "none") {
    return Bad("network must be 'default' or 'none', not '" + f.network + "'");
  }
  if (f.sandbox != "container" && f.sandbox != "vm") {
    return Bad("sandbox must be 'container' or 'vm', not '" + f.sandbox + "'");
  }
  if (f.snapstart && f.sandbox != "vm") {
    return Bad("snapstart restores microVM snapshots: it needs sandbox 'vm'");
  }
  return Status::Ok();
}

std::string FunctionImageTag(const std::string& name) { return "function." + name; }

std::string FunctionSnapshotTag(const std::string& name) {
  return "function." + name + ".snapstart";
}

Status UnpublishFunction(store::ObjectStore& store, const std::string& tenant,
                         const std::string& name) {
  Status untagged = DeleteTag(store, tenant, FunctionSnapshotTag(name));
  return untagged.code() == StatusCode::kNotFound ? Status::Ok() : untagged;
}

bool IsLocalImage(const std::string& image) { return image.rfind("file:", 0) == 0; }

std::string EncodeFunction(const FunctionConfig& f) {
  json j = {{"format", kFormatVersion},
            {"name", f.name},
            {"tenant", f.tenant},
            {"image", f.image},
            {"handler", f.handler},
            {"memory_mib", f.memory_mib},
            {"timeout_seconds", f.timeout_seconds},
            {"environment", f.environment},
            {"network", f.network},
            {"sandbox", f.sandbox},
            {"snapstart", f.snapstart},
            {"concurrency", f.concurrency},
            {"updated", f.updated}};
  return j.dump();
}

Result<FunctionConfig> DecodeFunction(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("function: not a JSON object");
  FunctionConfig f;
  try {
    if (IntegerOf<int>(j.at("format")) != kFormatVersion) {
      return Status::Corruption("function: unknown format " + j.at("format").dump());
    }
    f.name = j.at("name").get<std::string>();
    f.tenant = j.at("tenant").get<std::string>();
    f.image = j.at("image").get<std::string>();
    f.handler = j.at("handler").get<std::string>();
    f.memory_mib = IntegerOf<uint32_t>(j.at("memory_mib"));
    f.timeout_seconds = IntegerOf<uint32_t>(j.at("timeout_seconds"));
    f.environment = j.at("environment").get<std::map<std::string, std::string>>();
    f.network = j.at("network").get<std::string>();
    f.sandbox = j.at("sandbox").get<std::string>();
    f.snapstart = j.value("snapstart", false);  // absent in functions made before SnapStart
    f.concurrency = IntegerOf<uint32_t>(j.at("concurrency"));
    f.updated = IntegerOf<int64_t>(j.at("updated"));
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("function: ") + e.what());
  }
  Status valid = ValidateFunction(f);
  if (!valid.ok()) return Status::Corruption(valid.message());
  return f;
}

Status PutFunction(store::ObjectStore& store, keys::KeyService& keys, const FunctionConfig& f) {
  LODE_RETURN_IF_ERROR(ValidateFunction(f));
  LODE_ASSIGN_OR_RETURN(keys::PublicKey pub, keys.TenantPublicKey(f.tenant));
  std::string plain = EncodeFunction(f);
  std::vector<uint8_t> sealed = manifest::SealToTenant(
      keys::SealedKind::kFunction, f.name,
      std::span(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()), pub);
  return store.Put(store::FunctionKey(f.tenant, f.name), sealed);
}

Result<std::optional<FunctionConfig>> GetFunction(store::ObjectStore& store, keys::KeyService& keys,
                                                  const std::string& tenant,
                                                  const std::string& name) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  LODE_RETURN_IF_ERROR(ValidateFunctionName(name));
  Result<std::vector<uint8_t>> sealed = store.Get(store::FunctionKey(tenant, name));
  if (sealed.status().code() == StatusCode::kNotFound) return std::optional<FunctionConfig>();
  LODE_RETURN_IF_ERROR(sealed.status());
  LODE_ASSIGN_OR_RETURN(keys::DataKey key,
                        keys.OpenDataKey({keys::SealedKind::kFunction, tenant, name, *sealed}));
  LODE_ASSIGN_OR_RETURN(
      std::vector<uint8_t> plain,
      manifest::OpenSealedBody(keys::SealedKind::kFunction, *sealed, key, "function " + name));
  LODE_ASSIGN_OR_RETURN(FunctionConfig f, DecodeFunction(std::string(plain.begin(), plain.end())));
  // A sealed function copied to another name (or tenant) opens with the
  // tenant's key: what it says it is decides.
  if (f.name != name || f.tenant != tenant) {
    return Status::Corruption("function " + name + ": the stored object is function " + f.tenant +
                              "/" + f.name);
  }
  return std::optional(std::move(f));
}

Result<std::vector<std::string>> ListFunctions(store::ObjectStore& store,
                                               const std::string& tenant) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  std::string prefix = store::FunctionPrefix(tenant);
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(prefix));
  std::vector<std::string> names;
  for (const std::string& key : keys) names.push_back(key.substr(prefix.size()));
  std::sort(names.begin(), names.end());
  return names;
}

Status DeleteFunction(store::ObjectStore& store, const std::string& tenant,
                      const std::string& name) {
  LODE_RETURN_IF_ERROR(keys::ValidateTenant(tenant));
  LODE_RETURN_IF_ERROR(ValidateFunctionName(name));
  std::string key = store::FunctionKey(tenant, name);
  LODE_ASSIGN_OR_RETURN(bool exists, store.Exists(key));
  if (!exists) return Status::NotFound("no function " + name + " for tenant " + tenant);
  LODE_RETURN_IF_ERROR(store.Delete(key));
  LODE_RETURN_IF_ERROR(UnpublishFunction(store, tenant, name));
  Status untagged = DeleteTag(store, tenant, FunctionImageTag(name));
  return untagged.code() == StatusCode::kNotFound ? Status::Ok() : untagged;
}

}  // namespace lode::catalog
