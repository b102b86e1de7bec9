// Roots: self-contained namespaces of chunks and manifests (docs/design.md,
// "Roots and garbage collection"). Each root has a record in the store
// (gc/roots/<root>, JSON) with its state, creation time and salt epoch. A
// store without records has one implicit active root, root-0.
//
//   active  -> receives pushes (more than one may be active)
//   retired -> reads only; its tagged images are being migrated away
//   expired -> reads are served but each raises an alarm (gc/alarms/<root>/)
//   deleted -> its objects are gone; the record stays as a tombstone
//
// Every store OpenStore returns raises those alarms: a read of an object in
// an expired or deleted root records an alarm before it is served, so the
// collector sees that something still uses the root. A failure to record
// it fails the read.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/object_store.h"
#include "util/status.h"

namespace lode::store {

enum class RootState { kActive, kRetired, kExpired, kDeleted };
const char* RootStateName(RootState state);

struct RootRecord {
  std::string id;
  RootState state = RootState::kActive;
  int64_t created = 0;  // Unix seconds
  int64_t changed = 0;  // Unix seconds of the last state change
  uint32_t salt_epoch = 0;
};

// Every root's record, by id; the implicit root-0 when there are none.
Result<std::vector<RootRecord>> ListRoots(ObjectStore& store);
// NotFound when `id` has no record (and is not the implicit root-0).
Result<RootRecord> GetRoot(ObjectStore& store, const std::string& id);
Status PutRoot(ObjectStore& store, const RootRecord& record);
// The root a push writes to: `requested`, which must be active, or the
// newest active root when empty.
Result<RootRecord> PushRoot(ObjectStore& store, const std::string& requested);

struct Alarm {
  std::string key;  // the alarm object itself
  std::string root;
  std::string object;  // what was read
  int64_t time = 0;    // Unix seconds
  std::string reader;  // host and process that read it
};
// Records that `object` of `root` was read after the root expired.
Status RecordAlarm(ObjectStore& store, const std::string& root, const std::string& object);
// Alarms of `root`, or of every root when empty.
Result<std::vector<Alarm>> ListAlarms(ObjectStore& store, const std::string& root);
// How many alarms `root` has (without reading them).
Result<uint64_t> CountAlarms(ObjectStore& store, const std::string& root);
// Removes `root`'s alarms; returns how many.
Result<uint64_t> ClearAlarms(ObjectStore& store, const std::string& root);

// A store that raises alarms for reads of expired roots: every read of an
// object in a root that is expired when the read completes records one. An
// active state is cached for `state_ttl` (kRootStateTtl for OpenStore's
// stores), so a root may only expire that long after it was retired.
std::unique_ptr<ObjectStore> AlarmOnExpiredReads(std::unique_ptr<ObjectStore> inner,
                                                 std::chrono::milliseconds state_ttl);

int64_t UnixNow();

}  // namespace lode::store
