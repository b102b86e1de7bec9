#include "agent/agent.h"

#include <unistd.h>

#include <filesystem>

#include "catalog/catalog.h"

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
          {"latency_us_log2_buckets", t.latency}};
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

std::string Agent::NewId() {
  // Unique across restarts too: a kept overlay is named after its attachment.
  return std::to_string(::getpid()) + "-" + std::to_string(next_id_++);
}

Result<std::shared_ptr<Attachment>> Agent::Attach(const std::string& ref_text,
                                                  const std::string& tenant, bool writable) {
  LODE_ASSIGN_OR_RETURN(store::ImageRef ref, catalog::ResolveRef(*store_, tenant, ref_text));
  LODE_ASSIGN_OR_RETURN(manifest::Manifest m, catalog::OpenManifest(*store_, ref, *keys_, tenant));
  if (m.chunks.size() != m.ChunkCount() || m.chunk_size == 0) {
    return Status::Corruption("manifest " + ref.ToString() + " has an inconsistent chunk table");
  }
  std::string id;
  {
    std::lock_guard lock(mu_);
    id = NewId();
  }
  AttachmentInfo info{id, tenant, m.fs_size, m.chunks.size(), 0, writable};
  for (const manifest::ChunkEntry& e : m.chunks) info.holes += e.hole();
  std::unique_ptr<Overlay> overlay;
  if (writable) {
    LODE_ASSIGN_OR_RETURN(overlay,
                          Overlay::Create(options_.cache_dir + "/overlays/" + id, m.fs_size));
  }
  auto attachment =
      std::make_shared<Attachment>(std::move(info), ref, std::move(m), reader_, std::move(overlay),
                                   [this](Attachment& a) { Follow(a); });
  std::lock_guard lock(mu_);
  attachments_[id] = attachment;
  return attachment;
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
  return a->Close(keep);
}

void Agent::DetachAll() {
  std::map<std::string, std::shared_ptr<Attachment>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(attachments_);
  }
  for (auto& [id, a] : all) (void)a->Close(false);
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
