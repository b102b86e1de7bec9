// Root-based garbage collection (docs/design.md, "Roots and garbage collection").
// Nothing is reference counted: the only deletion is a whole root, after
// every tagged image in it was migrated to an active root, it expired, and
// no read of it raised an alarm for a whole expiry period.
//
//   Rotate   a new active root (fresh salts: salts are per root); the active
//            roots before it become retired
//   Migrate  every tag whose image lies in a retired root: the manifest and
//            exactly its chunks are copied into the active root, re-sealed
//            under that root's salt, then the tag moves. Idempotent and
//            resumable: chunks are convergent, and a journal entry
//            (catalog::RecordMigration) written after the new manifest lets a
//            rerun reuse it and readers holding the old reference follow.
//   Expire   retired roots that no tag points into become expired, once
//            retired for longer than readers cache an active state
//   Sweep    expired roots older than a period, without alarms and still
//            untagged, are deleted (their record and migration journal
//            stay: a few bytes per image)
//
// Rotate, Expire and Sweep are run by one operator at a time; Migrate may
// run beside them, beside pushes and reads, and beside another Migrate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keys/key_service.h"
#include "store/object_store.h"
#include "store/roots.h"
#include "util/status.h"

namespace lode::gc {

struct RootUsage {
  store::RootRecord record;
  uint64_t chunks = 0;
  uint64_t chunk_bytes = 0;
  uint64_t manifests = 0;
  uint64_t manifest_bytes = 0;
  uint64_t tags = 0;  // tags (of any tenant) pointing into the root
  uint64_t alarms = 0;
};
// Every root with what it holds.
Result<std::vector<RootUsage>> Survey(store::ObjectStore& store);

// Creates an active root named root-N (N one above the highest in use). The
// active roots become retired unless `keep_active`. Returns the new record.
Result<store::RootRecord> Rotate(store::ObjectStore& store, int64_t now, bool keep_active = false);

struct MigrateOptions {
  std::string target_root;  // an active root; empty: the newest active root
  int threads = 0;          // 0: one per core
  // Called before each step that changes the store ("chunk", "manifest",
  // "journal", "tag"); an error stops the migration there, as a crash would.
  std::function<Status(const std::string& step)> before_step;
};
struct MigrateResult {
  uint64_t tags_moved = 0;
  uint64_t manifests_copied = 0;
  uint64_t manifests_reused = 0;  // migrated by an earlier (interrupted) run
  uint64_t chunks_copied = 0;
  uint64_t chunks_existing = 0;  // already in the target root
  uint64_t bytes_copied = 0;
  // Tags another writer moved meanwhile: left as they are.
  std::vector<std::string> tags_skipped;
  // "tenant/tag: error" for images whose data is damaged or missing (a
  // chunk fails verification): they stay where they are, and so does their
  // root; the other images are migrated.
  std::vector<std::string> failed;
};
// Needs the tenants' key pairs: manifests are opened to learn their chunks.
Result<MigrateResult> Migrate(store::ObjectStore& store, keys::KeyService& keys,
                              const MigrateOptions& options);

struct ExpireResult {
  std::vector<std::string> expired;
  std::vector<std::string> still_tagged;  // retired roots tags still point into
  std::vector<std::string> too_recent;    // retired less than kMinRetiredSeconds ago
};
constexpr int64_t kMinRetiredSeconds = 2;
Result<ExpireResult> Expire(store::ObjectStore& store, int64_t now);

struct SweepOptions {
  int64_t older_than = 0;  // seconds an expired root must have been expired
  int64_t now = 0;
  int64_t abandoned_put_age = 3600;  // seconds before a crashed put's leftovers go
  // Called as a root's objects are deleted: its name and how many so far.
  std::function<void(const std::string& root, uint64_t deleted)> progress;
};
struct SweepResult {
  std::vector<std::string> deleted;
  std::vector<std::string> kept;  // "root: reason"
  uint64_t objects_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t abandoned_puts_removed = 0;
};
Result<SweepResult> Sweep(store::ObjectStore& store, const SweepOptions& options);

}  // namespace lode::gc
