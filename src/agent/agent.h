// The worker agent's state: the tiers every attachment shares (memory, L1
// disk, origin store), the key service that opens manifests, and the table
// of attachments. The FUSE file system (block_fs.h) and the socket API
// (api.h) are views onto it; daemon.h wires them together. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/attachment.h"
#include "agent/chunk_reader.h"
#include "cache/chunk_fetcher.h"
#include "cache/disk_cache.h"
#include "cache/memcached_l2.h"
#include "cache/memory_cache.h"
#include "keys/key_service.h"
#include "store/object_store.h"

namespace lode::agent {

struct AgentOptions {
  std::string cache_dir;  // L1 chunks in cache_dir/chunks, overlays in cache_dir/overlays
  uint64_t cache_bytes = 4ull << 30;     // L1 budget
  uint64_t memory_bytes = 128ull << 20;  // decrypted-chunk budget
  std::optional<cache::L2Options> l2;    // the memcached fleet, if any
  int max_origin_fetches = 32;
  std::chrono::milliseconds admission_timeout{10000};
  std::chrono::seconds follow_interval{10};     // how often migrations are looked for
  std::function<void(const std::string&)> log;  // one line per event; may be empty
  // Startup profiles (catalog/profile.h): each attachment records its
  // start until no chunk is read for the first time for `profile_quiet`
  // or for at most `profile_max`, then merges it into the image's profile.
  std::chrono::milliseconds profile_quiet{2000};
  std::chrono::milliseconds profile_max{30000};
  // On attach, prefetch the image's profile on this many threads (0: off).
  int prefetch_threads = 16;
};

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Create(const AgentOptions& options,
                                               std::unique_ptr<store::ObjectStore> store,
                                               std::unique_ptr<keys::KeyService> keys);

  // Attaches a tenant's image (a tag or ROOT/MANIFEST-ID); prefetches its
  // startup profile if `prefetch` and the agent's options allow it. A
  // profile that cannot be read is logged and ignored.
  Result<std::shared_ptr<Attachment>> Attach(const std::string& ref, const std::string& tenant,
                                             bool writable, bool prefetch = true);
  // Saves the startup profiles of attachments whose start went quiet (call
  // periodically); Detach saves what is left.
  void SaveQuietProfiles();

  // Ends an attachment; refused while its block file is open. Returns the
  // kept overlay's path, if `keep`.
  Result<std::string> Detach(const std::string& id, bool keep);
  // Ends every attachment whether in use or not (shutdown); overlays are
  // discarded.
  void DetachAll();

  // What a successor needs to serve the same attachments: ids, nodes,
  // images, tenants, writability (the agent's part of the state file).
  nlohmann::json State() const;
  // Re-creates the attachments of an earlier agent's State() (their
  // overlays as their last sync left them). One that cannot be restored is
  // logged and left out: reads of its block file fail.
  void Restore(const nlohmann::json& state);
  // Makes every overlay's writes durable (before a handover).
  void SyncOverlays();

  // Moves attachments whose image gc migrated to another root onto the
  // copy (catalog::FindMigration), so reads leave retired roots before they
  // expire. Logs each move or failure.
  void FollowMigrations();

  std::shared_ptr<Attachment> Find(const std::string& id) const;
  std::vector<std::shared_ptr<Attachment>> List() const;
  // Counters of every tier and attachment, for `lode stats`.
  nlohmann::json Stats() const;

 private:
  Agent(const AgentOptions& options, std::unique_ptr<store::ObjectStore> store,
        std::unique_ptr<keys::KeyService> keys, std::unique_ptr<cache::DiskCache> l1,
        std::unique_ptr<cache::MemcachedL2> l2);
  // An attachment of `m` (opened from `ref`) as `id`, `node`; not yet in
  // the table (Publish), so nothing sees it half set up.
  Result<std::shared_ptr<Attachment>> Make(const std::string& id, uint64_t node,
                                           const std::string& tenant, bool writable,
                                           const store::ImageRef& ref, manifest::Manifest m,
                                           bool restored);
  void Publish(const std::shared_ptr<Attachment>& a);
  // Moves `a` onto the copy of its image if gc migrated it.
  void Follow(Attachment& a);
  void StartPrefetch(Attachment& a, const Result<std::optional<std::vector<uint8_t>>>& fetched);
  // Ends `a`'s recording and merges it into the image's stored profile.
  void SaveProfile(Attachment& a);
  void Log(const std::string& line) const;

  AgentOptions options_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<keys::KeyService> keys_;
  std::unique_ptr<cache::DiskCache> l1_;
  std::unique_ptr<cache::MemcachedL2> l2_;
  cache::MemoryCache memory_;
  cache::ChunkFetcher fetcher_;
  ChunkReader reader_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Attachment>> attachments_;
  uint64_t next_node_ = 2;  // node 1 is the mount's root directory
};

// Attachment fields and counters as JSON (`lode ps`, `lode stats`).
nlohmann::json AttachmentJson(const Attachment& a);

}  // namespace lode::agent
