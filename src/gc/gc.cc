#include "gc/gc.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "chunk/convergent.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "util/task_queue.h"

namespace lode::gc {
namespace {

using store::ImageRef;
using store::RootRecord;
using store::RootState;

int ThreadsOr(int threads) {
  return threads > 0 ? threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// What every lifecycle step decides on: the roots, and the tags (of every
// tenant) with how many point into each root.
struct Census {
  std::vector<RootRecord> roots;
  std::vector<catalog::TaggedImage> tags;
  std::map<std::string, uint64_t> tagged;
};

Result<Census> TakeCensus(store::ObjectStore& store) {
  Census c;
  LODE_ASSIGN_OR_RETURN(c.roots, store::ListRoots(store));
  LODE_ASSIGN_OR_RETURN(c.tags, catalog::ListAllTags(store));
  for (const catalog::TaggedImage& t : c.tags) ++c.tagged[t.ref.root];
  return c;
}

Status ChangeState(store::ObjectStore& store, RootRecord& r, RootState state, int64_t now) {
  r.state = state;
  r.changed = now;
  return store::PutRoot(store, r);
}

// The N of "root-N", or -1.
int64_t RootNumber(const std::string& id) {
  constexpr std::string_view kPrefix = "root-";
  if (id.rfind(kPrefix, 0) != 0) return -1;
  int64_t n = -1;
  const char* begin = id.data() + kPrefix.size();
  auto [end, ec] = std::from_chars(begin, id.data() + id.size(), n);
  return ec == std::errc() && end == id.data() + id.size() ? n : -1;
}

// Copies tagged images into one active root.
class Migrator {
 public:
  Migrator(store::ObjectStore& store, keys::KeyService& keys, RootRecord target,
           const MigrateOptions& options, MigrateResult& result)
      : store_(store),
        keys_(keys),
        target_(std::move(target)),
        options_(options),
        result_(result) {}

  // The copy of `ref` in the target root, made now or by an earlier run.
  Result<ImageRef> Copy(const std::string& tenant, const ImageRef& ref) {
    LODE_ASSIGN_OR_RETURN(std::optional<ImageRef> earlier, Journaled(ref));
    if (earlier) {
      ++result_.manifests_reused;
      LODE_RETURN_IF_ERROR(keys_.ImageMoved(tenant, ref.ToString(), earlier->ToString()));
      return *earlier;
    }
    LODE_ASSIGN_OR_RETURN(manifest::Manifest m, catalog::OpenManifest(store_, ref, keys_, tenant));
    LODE_ASSIGN_OR_RETURN(keys::SaltId salt_id, TargetSalt(m.salt_id));
    LODE_ASSIGN_OR_RETURN(keys::Salt salt, keys_.GetOrCreateSalt(salt_id));
    LODE_RETURN_IF_ERROR(CopyChunks(ref.root, salt_id.ToString(), salt, m));
    m.salt_id = salt_id.ToString();
    m.root_id = target_.id;
    LODE_ASSIGN_OR_RETURN(keys::PublicKey tenant_key, keys_.TenantPublicKey(tenant));
    std::vector<uint8_t> sealed = manifest::Seal(m, tenant_key);
    ImageRef copy{target_.id, manifest::ManifestId(sealed)};
    LODE_RETURN_IF_ERROR(Step("manifest"));
    LODE_RETURN_IF_ERROR(store_.Put(store::ManifestKey(copy.root, copy.manifest_id), sealed));
    LODE_RETURN_IF_ERROR(Step("journal"));
    LODE_RETURN_IF_ERROR(catalog::RecordMigration(store_, ref, copy));
    LODE_RETURN_IF_ERROR(keys_.ImageMoved(tenant, ref.ToString(), copy.ToString()));
    ++result_.manifests_copied;
    return copy;
  }

  Status Step(const std::string& step) {
    return options_.before_step ? options_.before_step(step) : Status::Ok();
  }

 private:
  // An earlier run's copy, if it is in the target root and complete.
  Result<std::optional<ImageRef>> Journaled(const ImageRef& ref) {
    LODE_ASSIGN_OR_RETURN(std::optional<ImageRef> copy, catalog::FindMigration(store_, ref));
    if (!copy || copy->root != target_.id) return std::optional<ImageRef>();
    LODE_ASSIGN_OR_RETURN(bool present,
                          store_.Exists(store::ManifestKey(copy->root, copy->manifest_id)));
    return present ? copy : std::optional<ImageRef>();
  }

  // Same placement domain, the target root's current epoch.
  Result<keys::SaltId> TargetSalt(const std::string& old_salt_id) {
    Result<keys::SaltId> old = keys::SaltId::Parse(old_salt_id);
    std::string domain = old.ok() ? old->domain : "default";
    LODE_ASSIGN_OR_RETURN(uint32_t epoch, keys_.CurrentSaltEpoch(target_.id, domain));
    return keys::SaltId{target_.id, domain, epoch};
  }

  Status CopyChunks(const std::string& from_root, const std::string& salt_id,
                    const keys::Salt& salt, manifest::Manifest& m) {
    int threads = ThreadsOr(options_.threads);
    TaskQueue queue(threads, static_cast<size_t>(threads) * 2);
    for (size_t i = 0; i < m.chunks.size(); ++i) {
      if (m.chunks[i].hole()) continue;
      manifest::ChunkEntry* entry = &m.chunks[i];
      LODE_RETURN_IF_ERROR(queue.Submit([this, from_root, salt_id, salt, entry] {
        return CopyChunk(from_root, salt_id, salt, *entry);
      }));
    }
    return queue.Finish();
  }

  // Re-seals one chunk under the target salt; `entry` becomes the copy's.
  Status CopyChunk(const std::string& from_root, const std::string& salt_id, const keys::Salt& salt,
                   manifest::ChunkEntry& entry) {
    std::pair<chunk::ChunkName, std::string> id{entry.name, salt_id};
    {
      std::lock_guard lock(mu_);
      if (auto it = resealed_.find(id); it != resealed_.end()) {
        entry = it->second;
        return Status::Ok();
      }
    }
    std::string key = store::ChunkKey(from_root, chunk::NameHex(entry.name));
    LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> stored, store_.Get(key));
    Result<chunk::SealedChunk> resealed =
        chunk::Reseal(stored, entry.name, entry.key, entry.flags & manifest::kCompressed, salt);
    if (!resealed.ok()) return resealed.status().WithContext(key);
    const chunk::SealedChunk& sealed = *resealed;
    LODE_RETURN_IF_ERROR(Step("chunk"));
    LODE_ASSIGN_OR_RETURN(bool uploaded, catalog::PutChunkIfAbsent(store_, target_.id, sealed));
    manifest::ChunkEntry copy = manifest::ChunkEntry::Of(sealed);
    std::lock_guard lock(mu_);
    resealed_[id] = copy;
    entry = copy;
    if (uploaded) {
      ++result_.chunks_copied;
      result_.bytes_copied += sealed.stored.size();
    } else {
      ++result_.chunks_existing;
    }
    return Status::Ok();
  }

  store::ObjectStore& store_;
  keys::KeyService& keys_;
  RootRecord target_;
  const MigrateOptions& options_;
  MigrateResult& result_;
  std::mutex mu_;  // guards resealed_ and the chunk counters of result_
  // Chunks re-sealed in this run, by old name and target salt: images
  // sharing chunks copy each once.
  std::map<std::pair<chunk::ChunkName, std::string>, manifest::ChunkEntry> resealed_;
};

Status DeleteRootObjects(store::ObjectStore& store, const std::string& root,
                         const SweepOptions& options, SweepResult& result) {
  LODE_ASSIGN_OR_RETURN(std::vector<store::ObjectInfo> objects,
                        store.ListObjects(store::RootPrefix(root)));
  // Deletes are round trips on a remote store: several at once.
  TaskQueue queue(8, 16);
  uint64_t deleted = 0;
  for (const store::ObjectInfo& o : objects) {
    LODE_RETURN_IF_ERROR(queue.Submit([&store, key = o.key] { return store.Delete(key); }));
    ++result.objects_deleted;
    result.bytes_deleted += o.size;
    if (options.progress) options.progress(root, ++deleted);
  }
  return queue.Finish();
}

}  // namespace

Result<std::vector<RootUsage>> Survey(store::ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(Census census, TakeCensus(store));
  std::vector<RootUsage> out;
  for (const RootRecord& r : census.roots) {
    RootUsage u{r};
    u.tags = census.tagged[r.id];
    LODE_ASSIGN_OR_RETURN(std::vector<store::ObjectInfo> objects,
                          store.ListObjects(store::RootPrefix(r.id)));
    for (const store::ObjectInfo& o : objects) {
      bool chunk = o.key.rfind(store::RootPrefix(r.id) + "chunks/", 0) == 0;
      (chunk ? u.chunks : u.manifests) += 1;
      (chunk ? u.chunk_bytes : u.manifest_bytes) += o.size;
    }
    LODE_ASSIGN_OR_RETURN(u.alarms, store::CountAlarms(store, r.id));
    out.push_back(std::move(u));
  }
  return out;
}

Result<RootRecord> Rotate(store::ObjectStore& store, int64_t now, bool keep_active) {
  LODE_ASSIGN_OR_RETURN(std::vector<RootRecord> roots, store::ListRoots(store));
  int64_t highest = -1;
  uint32_t epoch = 0;
  for (const RootRecord& r : roots) {
    highest = std::max(highest, RootNumber(r.id));
    epoch = std::max(epoch, r.salt_epoch + 1);
  }
  RootRecord fresh{"root-" + std::to_string(highest + 1), RootState::kActive, now, now, epoch};
  // The new root is active before the old ones retire: pushes always have one.
  LODE_RETURN_IF_ERROR(store::PutRoot(store, fresh));
  // Written even when kept active: the implicit root-0 needs a record now.
  for (RootRecord& r : roots) {
    if (r.state != RootState::kActive) continue;
    LODE_RETURN_IF_ERROR(keep_active ? store::PutRoot(store, r)
                                     : ChangeState(store, r, RootState::kRetired, now));
  }
  return fresh;
}

Result<MigrateResult> Migrate(store::ObjectStore& store, keys::KeyService& keys,
                              const MigrateOptions& options) {
  LODE_ASSIGN_OR_RETURN(RootRecord target, store::PushRoot(store, options.target_root));
  LODE_ASSIGN_OR_RETURN(Census census, TakeCensus(store));
  std::set<std::string> retired;
  for (const RootRecord& r : census.roots) {
    if (r.state == RootState::kRetired) retired.insert(r.id);
  }
  MigrateResult result;
  Migrator migrator(store, keys, target, options, result);
  std::map<std::string, ImageRef> copies;  // by tenant and old reference
  for (const catalog::TaggedImage& t : census.tags) {
    if (!retired.contains(t.ref.root)) continue;
    std::string id = t.tenant + " " + t.ref.ToString();
    if (!copies.contains(id)) {
      Result<ImageRef> copy = migrator.Copy(t.tenant, t.ref);
      StatusCode code = copy.status().code();
      if (code == StatusCode::kCorruption || code == StatusCode::kNotFound) {
        result.failed.push_back(t.tenant + "/" + t.tag + ": " + copy.status().ToString());
        continue;
      }
      if (!copy.ok()) return copy.status().WithContext("migrate " + t.tenant + "/" + t.tag);
      copies[id] = *copy;
    }
    LODE_RETURN_IF_ERROR(migrator.Step("tag"));
    LODE_ASSIGN_OR_RETURN(bool moved, catalog::MoveTag(store, t.tenant, t.tag, t.ref, copies[id]));
    if (moved) {
      ++result.tags_moved;
    } else {
      result.tags_skipped.push_back(t.tenant + "/" + t.tag);
    }
  }
  return result;
}

Result<ExpireResult> Expire(store::ObjectStore& store, int64_t now) {
  static_assert(kMinRetiredSeconds * 1000 > store::kRootStateTtl.count());
  LODE_ASSIGN_OR_RETURN(Census census, TakeCensus(store));
  ExpireResult result;
  for (RootRecord& r : census.roots) {
    if (r.state != RootState::kRetired) continue;
    if (census.tagged[r.id] > 0) {
      result.still_tagged.push_back(r.id);
      continue;
    }
    // Readers may still take it for active (store/roots.h).
    if (now - r.changed < kMinRetiredSeconds) {
      result.too_recent.push_back(r.id);
      continue;
    }
    LODE_RETURN_IF_ERROR(ChangeState(store, r, RootState::kExpired, now));
    result.expired.push_back(r.id);
  }
  return result;
}

Result<SweepResult> Sweep(store::ObjectStore& store, const SweepOptions& options) {
  if (options.older_than < 0) return Status::InvalidArgument("negative expiry period");
  LODE_ASSIGN_OR_RETURN(Census census, TakeCensus(store));
  SweepResult result;
  for (RootRecord& r : census.roots) {
    if (r.state != RootState::kExpired) continue;
    LODE_ASSIGN_OR_RETURN(uint64_t alarms, store::CountAlarms(store, r.id));
    int64_t age = options.now - r.changed;
    uint64_t tags = census.tagged[r.id];
    if (age < options.older_than) {
      result.kept.push_back(r.id + ": expired " + std::to_string(age) + " s ago");
    } else if (alarms > 0) {
      result.kept.push_back(r.id + ": " + std::to_string(alarms) +
                            " alarms (reads after expiry); see lode gc alarms");
    } else if (tags > 0) {
      result.kept.push_back(r.id + ": " + std::to_string(tags) + " tags point into it");
    } else {
      // Objects first, the record last: an interrupted sweep is finished by
      // the next one.
      LODE_RETURN_IF_ERROR(DeleteRootObjects(store, r.id, options, result));
      LODE_RETURN_IF_ERROR(ChangeState(store, r, RootState::kDeleted, options.now));
      result.deleted.push_back(r.id);
    }
  }
  LODE_ASSIGN_OR_RETURN(result.abandoned_puts_removed,
                        store.RemoveAbandonedPuts(std::chrono::seconds(options.abandoned_put_age)));
  return result;
}

}  // namespace lode::gc
