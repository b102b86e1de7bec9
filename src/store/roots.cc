#include "store/roots.h"

#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "store/layout.h"
#include "util/clock.h"
#include "util/json_int.h"

namespace lode::store {
namespace {

using nlohmann::json;

constexpr RootState kStates[] = {RootState::kActive, RootState::kRetired, RootState::kExpired,
                                 RootState::kDeleted};

Result<json> GetJson(ObjectStore& store, const std::string& key) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store.Get(key));
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corruption(key + " is not a JSON object");
  return j;
}

Status PutJson(ObjectStore& store, const std::string& key, const json& j) {
  std::string text = j.dump() + "\n";
  return store.Put(key, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<RootRecord> ReadRecord(ObjectStore& store, const std::string& key) {
  LODE_ASSIGN_OR_RETURN(json j, GetJson(store, key));
  try {
    RootRecord r;
    r.id = j.at("id").get<std::string>();
    std::string state = j.at("state").get<std::string>();
    auto it = std::find_if(std::begin(kStates), std::end(kStates),
                           [&](RootState s) { return state == RootStateName(s); });
    if (it == std::end(kStates)) return Status::Corruption(key + ": unknown state " + state);
    r.state = *it;
    r.created = IntegerOf<int64_t>(j.at("created"));
    r.changed = IntegerOf<int64_t>(j.at("changed"));
    r.salt_epoch = IntegerOf<uint32_t>(j.at("salt_epoch"));
    LODE_RETURN_IF_ERROR(ValidateRootId(r.id));
    if (RootRecordKey(r.id) != key) return Status::Corruption(key + " names root " + r.id);
    return r;
  } catch (const json::exception& e) {
    return Status::Corruption(key + ": " + e.what());
  }
}

RootRecord ImplicitRoot() { return RootRecord{kDefaultRoot, RootState::kActive, 0, 0, 0}; }

// The state is read after the object: a read that raced with the expiry
// counts as after it. Only "active" is cached (for the TTL, counted from
// when the state read began; expiring takes longer than that after
// retiring, see gc/gc.h), and alarming states (they never change back); a
// retired root's state is read every time. An uncached state is read while
// the object is, to save a round trip on first reads: a result that is
// active is still within its TTL when the object arrives, and any other
// is read again after the object.
class AlarmingStore : public ForwardingStore {
 public:
  AlarmingStore(std::unique_ptr<ObjectStore> inner, std::chrono::milliseconds ttl)
      : ForwardingStore(std::move(inner)), ttl_ns_(std::chrono::nanoseconds(ttl).count()) {}

  Result<std::vector<uint8_t>> Get(const std::string& key) override {
    std::string root = RootOfKey(key);
    if (root.empty()) return ForwardingStore::Get(key);
    std::future<Result<bool>> early;
    if (Lookup(root).read_early) {
      early = std::async(std::launch::async, [this, &root] { return Read(root); });
    }
    Result<std::vector<uint8_t>> object = ForwardingStore::Get(key);
    if (early.valid()) early.wait();
    std::optional<bool> cached = Lookup(root).alarming;
    bool alarming;
    if (cached) {
      alarming = *cached;
    } else {
      LODE_ASSIGN_OR_RETURN(alarming, Read(root));
    }
    if (alarming) LODE_RETURN_IF_ERROR(RecordAlarm(inner(), root, key));
    return object;
  }

 private:
  struct CacheEntry {
    bool alarming = false;
    int64_t until_ns = 0;
    bool active = false;
  };
  struct Cached {
    std::optional<bool> alarming;  // while the cached state is valid
    // Not cached and worth reading beside the object: a retired root is
    // read again after the object anyway.
    bool read_early = false;
  };

  Cached Lookup(const std::string& root) {
    int64_t now = MonotonicNanos();
    std::lock_guard lock(mu_);
    auto it = cache_.find(root);
    if (it == cache_.end()) return {std::nullopt, true};
    if (now < it->second.until_ns) return {it->second.alarming, false};
    return {std::nullopt, it->second.active};
  }

  Result<bool> Read(const std::string& root) {
    int64_t now = MonotonicNanos();
    // A root without a record is not managed by gc: never alarming (so
    // unlike GetRoot, no listing to tell the implicit root apart).
    Result<RootRecord> record = ReadRecord(inner(), RootRecordKey(root));
    if (!record.ok() && record.status().code() != StatusCode::kNotFound) return record.status();
    RootState state = record.ok() ? record->state : RootState::kActive;
    bool alarming = state == RootState::kExpired || state == RootState::kDeleted;
    int64_t until = alarming ? INT64_MAX : state == RootState::kActive ? now + ttl_ns_ : now;
    std::lock_guard lock(mu_);
    cache_[root] = {alarming, until, state == RootState::kActive};
    return alarming;
  }

  int64_t ttl_ns_;
  std::mutex mu_;
  std::map<std::string, CacheEntry> cache_;
};

}  // namespace

const char* RootStateName(RootState state) {
  switch (state) {
    case RootState::kActive:
      return "active";
    case RootState::kRetired:
      return "retired";
    case RootState::kExpired:
      return "expired";
    case RootState::kDeleted:
      return "deleted";
  }
  return "?";
}

Result<std::vector<RootRecord>> ListRoots(ObjectStore& store) {
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(kRootRecordPrefix));
  std::vector<RootRecord> roots;
  for (const std::string& key : keys) {
    LODE_ASSIGN_OR_RETURN(RootRecord r, ReadRecord(store, key));
    roots.push_back(std::move(r));
  }
  if (roots.empty()) roots.push_back(ImplicitRoot());
  return roots;
}

Result<RootRecord> GetRoot(ObjectStore& store, const std::string& id) {
  LODE_RETURN_IF_ERROR(ValidateRootId(id));
  Result<RootRecord> record = ReadRecord(store, RootRecordKey(id));
  if (record.status().code() != StatusCode::kNotFound) return record;
  if (id == kDefaultRoot) {
    LODE_ASSIGN_OR_RETURN(std::vector<std::string> records, store.List(kRootRecordPrefix));
    if (records.empty()) return ImplicitRoot();
  }
  return Status::NotFound("root " + id + " has no record in " + store.Describe());
}

Status PutRoot(ObjectStore& store, const RootRecord& r) {
  LODE_RETURN_IF_ERROR(ValidateRootId(r.id));
  json j = {{"id", r.id},
            {"state", RootStateName(r.state)},
            {"created", r.created},
            {"changed", r.changed},
            {"salt_epoch", r.salt_epoch}};
  return PutJson(store, RootRecordKey(r.id), j);
}

Result<RootRecord> PushRoot(ObjectStore& store, const std::string& requested) {
  if (!requested.empty()) {
    LODE_ASSIGN_OR_RETURN(RootRecord r, GetRoot(store, requested));
    if (r.state != RootState::kActive) {
      return Status::Rejected("root " + r.id + " is " + RootStateName(r.state) +
                              ", not active: pushes go to active roots");
    }
    return r;
  }
  LODE_ASSIGN_OR_RETURN(std::vector<RootRecord> roots, ListRoots(store));
  const RootRecord* newest = nullptr;
  for (const RootRecord& r : roots) {
    if (r.state == RootState::kActive && (!newest || r.created >= newest->created)) newest = &r;
  }
  if (!newest)
    return Status::Rejected("no active root in " + store.Describe() + ": lode gc rotate");
  return *newest;
}

Status RecordAlarm(ObjectStore& store, const std::string& root, const std::string& object) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  int64_t now = UnixNow();
  std::string name = std::to_string(now) + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(rng() % 1000000000);
  json j = {{"root", root},
            {"object", object},
            {"time", now},
            {"reader", std::string(host) + ":" + std::to_string(::getpid())}};
  return PutJson(store, AlarmPrefix(root) + name, j);
}

Result<std::vector<Alarm>> ListAlarms(ObjectStore& store, const std::string& root) {
  if (!root.empty()) LODE_RETURN_IF_ERROR(ValidateRootId(root));
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(AlarmPrefix(root)));
  std::vector<Alarm> alarms;
  for (const std::string& key : keys) {
    Result<json> j = GetJson(store, key);
    if (!j.ok() && j.status().code() == StatusCode::kNotFound) continue;  // cleared meanwhile
    LODE_RETURN_IF_ERROR(j.status());
    try {
      Alarm a{key, j->value("root", ""), j->value("object", ""),
              j->contains("time") ? IntegerOf<int64_t>((*j)["time"]) : 0, j->value("reader", "")};
      alarms.push_back(std::move(a));
    } catch (const json::exception& e) {
      return Status::Corruption(key + ": " + e.what());
    }
  }
  return alarms;
}

Result<uint64_t> CountAlarms(ObjectStore& store, const std::string& root) {
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(AlarmPrefix(root)));
  return keys.size();
}

Result<uint64_t> ClearAlarms(ObjectStore& store, const std::string& root) {
  LODE_RETURN_IF_ERROR(ValidateRootId(root));
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(AlarmPrefix(root)));
  for (const std::string& key : keys) LODE_RETURN_IF_ERROR(store.Delete(key));
  return keys.size();
}

std::unique_ptr<ObjectStore> AlarmOnExpiredReads(std::unique_ptr<ObjectStore> inner,
                                                 std::chrono::milliseconds state_ttl) {
  return std::make_unique<AlarmingStore>(std::move(inner), state_ttl);
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace lode::store
