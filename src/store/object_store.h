// ObjectStore: the one interface every origin backend implements (dir://
// and s3://). Keys are relative paths of [A-Za-z0-9._-] segments
// joined by '/'; layout.h builds every key lode uses. Implementations are
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::store {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  bool operator<(const ObjectInfo& other) const { return key < other.key; }
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `data` under `key`, replacing any previous object. The object is
  // durable, and readers see either the old or the new bytes, never a part.
  virtual Status Put(const std::string& key, std::span<const uint8_t> data) = 0;
  // The object's bytes; NotFound when absent.
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  virtual Result<bool> Exists(const std::string& key) = 0;
  // Exists, asked by listing: all a pusher may do where its credentials can
  // list and put but never read (S3: s3:ListBucket without s3:GetObject,
  // which HEAD needs). Object names are hashes of ciphertext: a listing
  // reveals nothing of the contents.
  virtual Result<bool> ExistsByListing(const std::string& key) { return Exists(key); }
  // Objects whose keys start with `prefix`, sorted by key.
  virtual Result<std::vector<ObjectInfo>> ListObjects(const std::string& prefix) = 0;
  // Their keys only.
  Result<std::vector<std::string>> List(const std::string& prefix);
  // Removes the object; removing an absent object is not an error.
  virtual Status Delete(const std::string& key) = 0;
  // Removes what Puts interrupted by a crash left behind, if older than
  // `age`; returns how many. Backends whose puts are all-or-nothing have
  // nothing to remove.
  virtual Result<uint64_t> RemoveAbandonedPuts(std::chrono::seconds /*age*/) { return 0; }
  // "dir:///path" style description for messages.
  virtual std::string Describe() const = 0;
};

// Passes every call to another store: the base of stores that watch or
// change a few calls of the one below.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::unique_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
  Status Put(const std::string& key, std::span<const uint8_t> data) override {
    return inner_->Put(key, data);
  }
  Result<std::vector<uint8_t>> Get(const std::string& key) override { return inner_->Get(key); }
  Result<bool> Exists(const std::string& key) override { return inner_->Exists(key); }
  Result<bool> ExistsByListing(const std::string& key) override {
    return inner_->ExistsByListing(key);
  }
  Result<std::vector<ObjectInfo>> ListObjects(const std::string& prefix) override {
    return inner_->ListObjects(prefix);
  }
  Status Delete(const std::string& key) override { return inner_->Delete(key); }
  Result<uint64_t> RemoveAbandonedPuts(std::chrono::seconds age) override {
    return inner_->RemoveAbandonedPuts(age);
  }
  std::string Describe() const override { return inner_->Describe(); }

 protected:
  ObjectStore& inner() { return *inner_; }

 private:
  std::unique_ptr<ObjectStore> inner_;
};

// Opens a store from its URL: dir://PATH (the directory is created) or
// s3://BUCKET/PREFIX?endpoint=URL. An unknown scheme is InvalidArgument.
// Reads from an expired root are served and raise an alarm (store/roots.h);
// root states are cached for `root_state_ttl`.
constexpr std::chrono::milliseconds kRootStateTtl{1000};
Result<std::unique_ptr<ObjectStore>> OpenStore(
    const std::string& url, std::chrono::milliseconds root_state_ttl = kRootStateTtl);

// InvalidArgument unless `key` is a well-formed object key.
Status ValidateKey(const std::string& key);

}  // namespace lode::store
