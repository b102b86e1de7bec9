// Grants: worker W may open tenant T's image ROOT/MANIFEST-ID (its
// manifest and its startup profile), and, when the grant is for a
// function, that function's object, until an expiry. Kept by keyd in one
// JSON file, rewritten atomically on every change. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keys/envelope.h"
#include "util/status.h"

namespace lode::keyd {

struct Grant {
  std::string tenant;
  std::string worker;
  std::string image;     // ROOT/MANIFEST-ID
  std::string function;  // the function whose image it is, or ""
  std::string label;     // what the grant was asked for (a tag, a ref, function:NAME)
  int64_t created = 0;   // Unix seconds
  int64_t expires = 0;   // Unix seconds; 0: never
  bool Live(int64_t now) const { return expires == 0 || now < expires; }
};

// InvalidArgument unless the grant's names are well formed.
Status ValidateGrant(const Grant& grant);

class GrantTable {
 public:
  // The grants in `path` (none when it does not exist yet).
  static Result<std::unique_ptr<GrantTable>> Open(const std::string& path);

  // Adds or renews (same tenant, worker, image and function) a grant.
  Status Add(const Grant& grant);
  // Removes the grants of (tenant, worker) for `image`, or asked for as
  // `label` (a tag that has moved since); how many it removed.
  Result<int> Revoke(const std::string& tenant, const std::string& worker, const std::string& image,
                     const std::string& label);
  // Copies every live grant of `from` to `to` (gc moved the image).
  Result<int> Follow(const std::string& tenant, const std::string& from, const std::string& to);
  std::vector<Grant> List() const;

  // The live grant that lets `worker` open `object` at `now`, or nullopt.
  std::optional<Grant> Allowing(const std::string& worker, const keys::SealedObject& object,
                                int64_t now) const;

 private:
  explicit GrantTable(std::string path) : path_(std::move(path)) {}
  Status SaveLocked() const;

  std::string path_;
  mutable std::mutex mu_;
  std::vector<Grant> grants_;
};

}  // namespace lode::keyd
