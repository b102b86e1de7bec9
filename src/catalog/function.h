// Functions: an image plus the configuration Lambda gives a function
// (handler, memory, timeout, environment, network). A function is tenant
// data, so it is sealed to the tenant like a manifest and stored once per
// tenant in the store, where every worker's function host finds it:
// functions/<tenant>/<name> (docs/formats/function.md).
//
// The image a function runs is pinned by a tag of the tenant,
// "function.<name>", which create and update point at the resolved image:
// pushing a new image under the tag the function was created from changes
// nothing until `lode function update`, as in Lambda, and gc keeps the
// image (tags are what gc keeps) and moves the pin when it migrates it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keys/key_service.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::catalog {

struct FunctionConfig {
  std::string name;              // [A-Za-z0-9_-], 1..64 characters
  std::string tenant;            // the tenant it belongs to (checked when opened)
  std::string image;             // the image as given to create/update (a tag or ROOT/ID)
  std::string handler;           // replaces the image's cmd when not empty
  uint32_t memory_mib = 128;     // 128..10240
  uint32_t timeout_seconds = 3;  // 1..900
  std::map<std::string, std::string> environment;
  std::string network = "default";    // "default" (outbound) or "none"
  std::string sandbox = "container";  // where invocations run: "container" or "vm"
  // Cold starts restore the snapshot `lode function publish` took (vm only).
  bool snapstart = false;
  uint32_t concurrency = 0;  // most sandboxes at once on a host; 0: the host's limit
  int64_t updated = 0;       // Unix seconds of the last create or update
};

// Checks every field's range; InvalidArgument names the first bad one.
Status ValidateFunction(const FunctionConfig& f);
Status ValidateFunctionName(const std::string& name);

// The plaintext: a JSON object (docs/formats/function.md). Decode refuses
// unknown versions, wrong types and out-of-range values (Corruption).
std::string EncodeFunction(const FunctionConfig& f);
Result<FunctionConfig> DecodeFunction(const std::string& json);

// The tag that pins a function's image.
std::string FunctionImageTag(const std::string& name);
// The tag of a SnapStart function's published snapshot: gc keeps it like
// an image, and a new publish moves the tag (the old snapshot, untagged,
// goes with gc).
std::string FunctionSnapshotTag(const std::string& name);
// Drops the published snapshot (none is fine): after an update it would
// restore the function as it was.
Status UnpublishFunction(store::ObjectStore& store, const std::string& tenant,
                         const std::string& name);

// An image "file:PATH": a flattened image on the host's local disk (with
// PATH.config.json beside it, as `lode flatten` writes), not in the
// store; what a lazily loaded start is measured against.
bool IsLocalImage(const std::string& image);

// Seals `f` to its tenant and stores it (replacing an earlier version).
Status PutFunction(store::ObjectStore& store, keys::KeyService& keys, const FunctionConfig& f);
// The tenant's function `name`; nullopt when there is none. One that does
// not open (another tenant's, tampered, moved to another name) is
// Corruption.
Result<std::optional<FunctionConfig>> GetFunction(store::ObjectStore& store, keys::KeyService& keys,
                                                  const std::string& tenant,
                                                  const std::string& name);
// The names of a tenant's functions, sorted.
Result<std::vector<std::string>> ListFunctions(store::ObjectStore& store,
                                               const std::string& tenant);
// Removes the function and its image pin; NotFound when there is none.
Status DeleteFunction(store::ObjectStore& store, const std::string& tenant,
                      const std::string& name);

}  // namespace lode::catalog
