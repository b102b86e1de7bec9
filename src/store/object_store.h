// ObjectStore: the one interface every origin backend implements (dir://
// now, s3:// later). Keys are relative paths of [A-Za-z0-9._-] segments
// joined by '/'; layout.h builds every key lode uses. Implementations are
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::store {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `data` under `key`, replacing any previous object. The object is
  // durable, and readers see either the old or the new bytes, never a part.
  virtual Status Put(const std::string& key, std::span<const uint8_t> data) = 0;
  // The object's bytes; NotFound when absent.
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  virtual Result<bool> Exists(const std::string& key) = 0;
  // Keys that start with `prefix`, sorted.
  virtual Result<std::vector<std::string>> List(const std::string& prefix) = 0;
  // Removes the object; removing an absent object is not an error.
  virtual Status Delete(const std::string& key) = 0;
  // "dir:///path" style description for messages.
  virtual std::string Describe() const = 0;
};

// Opens a store from its URL: dir://PATH (the directory is created).
// An unknown scheme is InvalidArgument.
Result<std::unique_ptr<ObjectStore>> OpenStore(const std::string& url);

// InvalidArgument unless `key` is a well-formed object key.
Status ValidateKey(const std::string& key);

}  // namespace lode::store
