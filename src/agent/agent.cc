#include "agent/agent.h"

#include <unistd.h>

#include <filesystem>
#include <future>

#include "catalog/catalog.h"
#include "catalog/profile.h"
#include "util/clock.h"

namespace lode::agent {
namespace {

namespace fs = std::filesystem;

nlohmann::json TierJson(const cache::TierSnapshot& t) {
  return {{"tier", t.tier},
          {"hits", t.hits},
          {"misses", t.misses},
          {"bytes", t.bytes},
          {"errors", t.errors},
          {"latency_us_p50", cache::QuantileMicros(t.latency, 0.5)},
          {"latency_us_p99", cache::QuantileMicros(t.latency, 0.99)},
          {"latency_us_log2_buckets", t.latency},
          {"latency_sum_seconds", static_cast<double>(t.latency_sum_ns) / 1e9}};
}

}  // namespace

Agent::Agent(const AgentOptions& options, std::unique_ptr<store::ObjectStore> store,
             std::unique_ptr<keys::KeyService> keys, std::unique_ptr<cache::DiskCache> l1,
             std::unique_ptr<cache::MemcachedL2> l2)
    : options_(options),
      store_(std::move(store)),
      keys_(std::move(keys)),
      l1_(std::move(l1)),
      l2_(std::move(l2)),
      memory_(options.memory_bytes),
      fetcher_({.l1 = l1_.get(),
                .l2 = l2_.get(),
                .max_origin_fetches = options.max_origin_fetches,
                .admission_timeout = options.admission_timeout},
               *store_),
      reader_(fetcher_, memory_) {}

Result<std::unique_ptr<Agent>> Agent::Create(const AgentOptions& options,
                                             std::unique_ptr<store::ObjectStore> store,
                                             std::unique_ptr<keys::KeyService> keys) {
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<cache::DiskCache> l1,
                        cache::DiskCache::Open(options.cache_dir + "/chunks", options.cache_bytes));
  std::error_code ec;
  fs::create_directories(options.cache_dir + "/overlays", ec);
  if (ec) return Status::IOError("create " + options.cache_dir + "/overlays: " + ec.message());
  std::unique_ptr<cache::MemcachedL2> l2;
  if (options.l2) {
    LODE_ASSIGN_OR_RETURN(l2, cache::MemcachedL2::Open(*options.l2));
  }
  return std::unique_ptr<Agent>(
      new Agent(options, std::move(store), std::move(keys), std::move(l1), std::move(l2)));
}

Result<std::shared_ptr<Attachment>> Agent::Attach(const std::string& ref_text,
                                                  const std::string& tenant, bool writable,
                                                  bool prefetch) {
  LODE_ASSIGN_OR_RETURN(store::ImageRef ref, catalog::ResolveRef(*store_, tenant, ref_text));
  prefetch = prefetch && options_.prefetch_threads > 0;
  // The profile is fetched while the manifest is: one store round trip
  // fewer before prefetching starts.
  std::future<Result<std::optional<std::vector<uint8_t>>>> profile;
  if (prefetch) {
    profile = std::async(std::launch::async,
                         [this, &ref] { return catalog::FetchProfile(*store_, ref); });
  }
  LODE_ASSIGN_OR_RETURN(manifest::Manifest m, catalog::OpenManifest(*store_, ref, *keys_, tenant));
  std::string id;
  uint64_t node;
  {
    std::lock_guard lock(mu_);
    node = next_node_++;
    // Unique across restarts too: a kept overlay is named after its attachment.
    id = std::to_string(::getpid()) + "-" + std::to_string(node);
  }
  LODE_ASSIGN_OR_RETURN(std::shared_ptr<Attachment> attachment,
                        Make(id, node, tenant, writable, ref, std::move(m), false));
  if (prefetch) StartPrefetch(*attachment, profile.get());
  Publish(attachment);
  return attachment;
}

void Agent::Publish(const std::shared_ptr<Attachment>& a) {
  std::lock_guard lock(mu_);
  attachments_[a->info().id] = a;
  next_node_ = std::max(next_node_, a->info().node + 1);
}

Result<std::shared_ptr<Attachment>> Agent::Make(const std::string& id, uint64_t node,
                                                const std::string& tenant, bool writable,
                                                const store::ImageRef& ref, manifest::Manifest m,
                                                bool restored) {
  if (m.chunks.size() != m.ChunkCount() || m.chunk_size == 0) {
    return Status::Corruption("manifest " + ref.ToString() + " has an inconsistent chunk table");
  }
  AttachmentInfo info{id, node, tenant, m.fs_size, m.chunks.size(), 0, writable};
  for (const manifest::ChunkEntry& e : m.chunks) info.holes += e.hole();
  std::unique_ptr<Overlay> overlay;
  if (writable) {
    std::string path = options_.cache_dir + "/overlays/" + id;
    LODE_ASSIGN_OR_RETURN(
        overlay, restored ? Overlay::Open(path, m.fs_size) : Overlay::Create(path, m.fs_size));
  }
  LODE_ASSIGN_OR_RETURN(manifest::PageMap pages,
                        manifest::PageMap::FromConfig(m.image_config, m.fs_size));
  auto attachment =
      std::make_shared<Attachment>(std::move(info), ref, std::move(m), reader_, std::move(overlay),
                                   std::move(pages), [this](Attachment& a) { Follow(a); });
  auto recorder = std::make_shared<ProfileRecorder>(attachment->info().chunks);
  if (restored) recorder->Stop();  // not a start: its start was recorded before
  attachment->SetRecorder(std::move(recorder));
  return attachment;
}

nlohmann::json Agent::State() const {
  nlohmann::json list = nlohmann::json::array();
  for (const std::shared_ptr<Attachment>& a : List()) {
    list.push_back({{"id", a->info().id},
                    {"node", a->info().node},
                    {"ref", a->ref().ToString()},
                    {"tenant", a->info().tenant},
                    {"writable", a->info().writable}});
  }
  return {{"attachments", list}};
}

void Agent::Restore(const nlohmann::json& state) {
  if (!state.contains("attachments") || !state["attachments"].is_array()) return;
  for (const nlohmann::json& j : state["attachments"]) {
    std::string id = "?";
    Status s = [&]() -> Status {
      try {
        id = j.at("id").get<std::string>();
        LODE_ASSIGN_OR_RETURN(store::ImageRef ref,
                              store::ParseImageRef(j.at("ref").get<std::string>()));
        std::string tenant = j.at("tenant").get<std::string>();
        LODE_ASSIGN_OR_RETURN(manifest::Manifest m,
                              catalog::OpenManifest(*store_, ref, *keys_, tenant));
        LODE_ASSIGN_OR_RETURN(std::shared_ptr<Attachment> a,
                              Make(id, j.at("node").get<uint64_t>(), tenant,
                                   j.at("writable").get<bool>(), ref, std::move(m), true));
        Publish(a);
        return Status::Ok();
      } catch (const nlohmann::json::exception& e) {
        return Status::Corruption(std::string("malformed state entry: ") + e.what());
      }
    }();
    Log("attachment " + id + (s.ok() ? ": restored" : ": not restored: " + s.ToString()));
  }
}

void Agent::SyncOverlays() {
  for (const std::shared_ptr<Attachment>& a : List()) {
    Status s = a->Flush();
    if (!s.ok()) Log("attachment " + a->info().id + ": " + s.ToString());
  }
}

Result<std::string> Agent::Detach(const std::string& id, bool keep) {
  std::shared_ptr<Attachment> a;
  {
    std::lock_guard lock(mu_);
    auto it = attachments_.find(id);
    if (it == attachments_.end()) return Status::NotFound("no attachment " + id);
    if (int open = it->second->open_handles().load(); open > 0) {
      return Status::Rejected("attachment " + id + " is in use (" + std::to_string(open) +
                              " open handles): unmount it first");
    }
    a = it->second;
    attachments_.erase(it);
  }
  SaveProfile(*a);
  return a->Close(keep);
}

void Agent::StartPrefetch(Attachment& a,
                          const Result<std::optional<std::vector<uint8_t>>>& fetched) {
  Result<std::optional<catalog::StartupProfile>> profile =
      catalog::OpenProfile(fetched, a.ref(), a.info().chunks, *keys_, a.info().tenant);
  if (!profile.ok()) {
    Log("attachment " + a.info().id + ": no prefetch: " + profile.status().ToString());
    return;
  }
  if (*profile) a.StartPrefetch(std::move((*profile)->chunks), options_.prefetch_threads);
}

void Agent::SaveQuietProfiles() {
  int64_t now = MonotonicNanos();
  int64_t quiet = std::chrono::nanoseconds(options_.profile_quiet).count();
  int64_t max = std::chrono::nanoseconds(options_.profile_max).count();
  for (const std::shared_ptr<Attachment>& a : List()) {
    if (a->recorder()->ShouldStop(now, quiet, max)) SaveProfile(*a);
  }
}

void Agent::SaveProfile(Attachment& a) {
  std::optional<catalog::StartupProfile> recorded = a.recorder()->Stop();
  if (!recorded) return;
  // A start that read nothing beyond the profile it prefetched leaves the
  // profile as it is, without a store round trip before detach answers.
  catalog::StartupProfile prefetched{a.prefetch_profile()};
  if (catalog::MergeProfiles(prefetched, *recorded).chunks.size() == prefetched.chunks.size()) {
    return;
  }
  store::ImageRef ref = a.ref();
  const std::string& tenant = a.info().tenant;
  // Read again rather than reuse what attach read: other workers may have
  // merged their starts into it meanwhile.
  Result<std::optional<catalog::StartupProfile>> stored =
      catalog::GetProfile(*store_, ref, a.info().chunks, *keys_, tenant);
  if (!stored.ok())
    Log("attachment " + a.info().id +
        ": replacing an unreadable profile: " + stored.status().ToString());
  catalog::StartupProfile older = stored.ok() && *stored ? **stored : catalog::StartupProfile{};
  catalog::StartupProfile merged = catalog::MergeProfiles(older, *recorded);
  // A start that read nothing new leaves the profile alone: first-read
  // orders vary a little between starts, not worth a store write each.
  if (stored.ok() && *stored && merged.chunks.size() == older.chunks.size()) return;
  Status saved = catalog::PutProfile(*store_, ref, merged, *keys_, tenant);
  Log("attachment " + a.info().id + ": " +
      (saved.ok() ? "startup profile of " + ref.ToString() + " saved (" +
                        std::to_string(merged.chunks.size()) + " chunks, " +
                        std::to_string(merged.chunks.size() - older.chunks.size()) + " new)"
                  : "startup profile not saved: " + saved.ToString()));
}

void Agent::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void Agent::DetachAll() {
  std::map<std::string, std::shared_ptr<Attachment>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(attachments_);
  }
  for (auto& [id, a] : all) {
    SaveProfile(*a);
    (void)a->Close(false);
  }
}

void Agent::Follow(Attachment& a) {
  store::ImageRef from = a.ref();
  Result<std::optional<store::ImageRef>> to = catalog::FindMigration(*store_, from);
  if (to.ok() && !*to) return;
  Status moved = to.status();
  if (moved.ok()) {
    Result<manifest::Manifest> m = catalog::OpenManifest(*store_, **to, *keys_, a.info().tenant);
    moved = m.ok() ? a.Retarget(**to, std::move(*m)) : m.status();
  }
  if (!options_.log) return;
  options_.log("attachment " + a.info().id + ": " +
               (moved.ok() ? "migrated from " + from.ToString() + " to " + (*to)->ToString()
                           : "stays on " + from.ToString() + ": " + moved.ToString()));
}

void Agent::FollowMigrations() {
  for (const std::shared_ptr<Attachment>& a : List()) Follow(*a);
}

std::shared_ptr<Attachment> Agent::Find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = attachments_.find(id);
  return it == attachments_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Attachment>> Agent::List() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Attachment>> out;
  for (const auto& [id, a] : attachments_) out.push_back(a);
  return out;
}

nlohmann::json AttachmentJson(const Attachment& a) {
  const AttachmentInfo& i = a.info();
  const AttachmentCounters& c = a.counters();
  return {{"id", i.id},
          {"tenant", i.tenant},
          {"ref", a.ref().ToString()},
          {"image_bytes", i.size},
          {"chunks", i.chunks},
          {"holes", i.holes},
          {"writable", i.writable},
          {"reads", c.reads.load()},
          {"bytes_read", c.bytes_read.load()},
          {"writes", c.writes.load()},
          {"bytes_written", c.bytes_written.load()},
          {"read_errors", c.read_errors.load()},
          {"memory_hits", c.memory_hits.load()},
          {"l1_hits", c.l1_hits.load()},
          {"l2_hits", c.l2_hits.load()},
          {"chunks_fetched", c.origin_fetches.load() + c.l2_hits.load()},  // from remote tiers
          {"origin_fetches", c.origin_fetches.load()},
          {"shared_fetches", c.shared_fetches.load()},
          {"fetched_bytes", c.fetched_bytes.load()},
          {"first_read_monotonic_ns", c.first_read_ns.load()},
          {"prefetch_chunks", c.prefetch_chunks.load()},
          {"prefetched", c.prefetched.load()},
          {"prefetch_errors", c.prefetch_errors.load()},
          {"prefetch_start_monotonic_ns", c.prefetch_start_ns.load()},
          {"prefetch_done_monotonic_ns", c.prefetch_done_ns.load()},
          {"overlay_pages", a.overlay_pages()}};
}

nlohmann::json Agent::Stats() const {
  nlohmann::json tiers = nlohmann::json::array();
  tiers.push_back({{"tier", "memory"}, {"bytes_cached", memory_.bytes()}});
  for (const cache::TierSnapshot& t : fetcher_.Metrics()) tiers.push_back(TierJson(t));
  const cache::AdmissionCounters& admission = fetcher_.admission().counters();
  nlohmann::json admission_json = {
      {"limit", fetcher_.admission().limit()}, {"in_flight", fetcher_.admission().in_flight()},
      {"admitted", admission.admitted.load()}, {"waited", admission.waited.load()},
      {"rejected", admission.rejected.load()}, {"peak_in_flight", admission.peak_in_flight.load()}};
  for (nlohmann::json& t : tiers) {
    if (t["tier"] == "l2" && l2_) {
      const cache::L2Counters& c = l2_->counters();
      t["stripes_late"] = c.stripes_late.load();
      t["stripes_missing"] = c.stripes_missing.load();
      t["fills"] = c.fills.load();
      t["stripes_stored"] = c.stripes_stored.load();
      t["fills_dropped"] = c.fills_dropped.load();
      t["code"] =
          std::to_string(l2_->options().code.k) + "+" + std::to_string(l2_->options().code.m);
    }
    if (t["tier"] == "origin") t["admission"] = admission_json;
  }
  cache::DiskCacheStats l1 = l1_->stats();
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& a : List()) attachments.push_back(AttachmentJson(*a));
  return {{"store", store_->Describe()},
          {"l1",
           {{"dir", l1_->dir()},
            {"entries", l1.entries},
            {"bytes", l1.bytes},
            {"budget", l1.budget},
            {"evictions", l1.evictions}}},
          {"tiers", tiers},
          {"attachments", attachments}};
}

}  // namespace lode::agent
