// Which function an invocation names, as the store says it is now: the
// served tenants' functions by NAME, NAME:$LATEST or ARN, read from the
// store (function object and image pin) and kept for a second, so that
// a warm invocation does not read the store and an update reaches every
// host within a second. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "catalog/function.h"
#include "keys/key_service.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::functions {

struct FunctionEntry {
  catalog::FunctionConfig config;
  std::string key;        // tenant/name
  std::string image_ref;  // ROOT/ID its pin points at, or its file: image
  // SnapStart: ROOT/ID of the snapshot `lode function publish` took; ""
  // when none (not SnapStart, or not published since the last update).
  std::string snapshot_ref;
  std::string version;  // changes with the configuration or the image
  std::string arn;
  std::chrono::steady_clock::time_point read_at;
};

class FunctionDirectory {
 public:
  // `tenants`: the served ones; a plain name is the first one's.
  FunctionDirectory(std::shared_ptr<store::ObjectStore> store,
                    std::shared_ptr<keys::KeyService> keys, std::vector<std::string> tenants,
                    std::string region);

  // The function `name` names. NotFound (with Lambda's "Function not
  // found: ARN" message) for an unknown function, a tenant not served, a
  // qualifier other than $LATEST; other errors as the store gave them.
  Result<FunctionEntry> Find(const std::string& name);

 private:
  Result<std::optional<FunctionEntry>> Read(const std::string& tenant, const std::string& name);

  std::shared_ptr<store::ObjectStore> store_;
  std::shared_ptr<keys::KeyService> keys_;
  const std::vector<std::string> tenants_;
  const std::string region_;
  std::mutex mu_;
  std::map<std::string, FunctionEntry> cache_;
};

}  // namespace lode::functions
