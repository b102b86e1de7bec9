#include "snapshotter/remote.h"

#include <cstdio>

#include "agent/api.h"
#include "catalog/catalog.h"
#include "catalog/chains.h"

namespace lode::snapshotter {

// The agent's overlay keeps writes in pages of this size (agent/overlay.h).
constexpr uint64_t kOverlayPageBytes = 4096;
LodeRemote::LodeRemote(std::unique_ptr<store::ObjectStore> store,
                       std::unique_ptr<keys::KeyService> keys, LodeRemoteOptions options)
    : store_(std::move(store)), keys_(std::move(keys)), options_(std::move(options)) {}

Result<std::optional<ChainMatch>> LodeRemote::Find(const std::string& chain_id) {
  std::lock_guard lock(mu_);
  auto found = by_chain_.find(chain_id);
  if (found == by_chain_.end() &&
      std::chrono::steady_clock::now() - refreshed_ >= options_.refresh_interval) {
    LODE_RETURN_IF_ERROR(Refresh());
    found = by_chain_.find(chain_id);
  }
  if (found == by_chain_.end()) return std::optional<ChainMatch>();
  return std::optional<ChainMatch>(found->second);
}

Status LodeRemote::Refresh() {
  refreshed_ = std::chrono::steady_clock::now();
  for (const std::string& tenant : options_.tenants) {
    LODE_ASSIGN_OR_RETURN(auto tags, catalog::ListTags(*store_, tenant));
    for (const auto& [tag, ref] : tags) {
      if (!tag.starts_with(catalog::kChainTagPrefix)) continue;
      std::string seen = tenant + "/" + tag + "=" + ref.ToString();
      if (indexed_.count(seen)) continue;
      Result<manifest::Manifest> image = catalog::OpenManifest(*store_, ref, *keys_, tenant);
      if (!image.ok()) {
        // One image this worker may not open must not hide the others.
        std::fprintf(stderr, "lode snapshotter: %s: %s\n", tag.c_str(),
                     image.status().ToString().c_str());
        continue;
      }
      indexed_.insert(seen);
      Index(tenant, tag, catalog::ChainIds(catalog::DiffIdsOf(*image)));
    }
  }
  return Status::Ok();
}

void LodeRemote::Index(const std::string& tenant, const std::string& tag,
                       const std::vector<std::string>& chain) {
  int layers = static_cast<int>(chain.size());
  for (int depth = 1; depth <= layers; ++depth) {
    ChainMatch match{tenant, tag, depth, layers};
    auto [it, inserted] = by_chain_.emplace(chain[depth - 1], match);
    // An image that is exactly this chain can be mounted; a longer one
    // holding it as a prefix cannot.
    if (!inserted && !it->second.full() && match.full()) it->second = match;
  }
}

Result<Attached> LodeRemote::Attach(const ChainMatch& image, bool writable) {
  LODE_ASSIGN_OR_RETURN(nlohmann::json answer, agent::CallAgentPatiently(options_.agent_socket,
                                                                         {{"op", "attach"},
                                                                          {"ref", image.image},
                                                                          {"tenant", image.tenant},
                                                                          {"writable", writable},
                                                                          {"prefetch", true}},
                                                                         std::chrono::seconds(10)));
  return Attached{answer.value("id", ""), answer.value("path", "")};
}

Status LodeRemote::Detach(const std::string& attachment) {
  Result<nlohmann::json> answer = agent::CallAgentPatiently(
      options_.agent_socket, {{"op", "detach"}, {"id", attachment}}, std::chrono::seconds(2));
  return answer.status();
}

Result<int64_t> LodeRemote::OverlayBytes(const std::string& attachment) {
  LODE_ASSIGN_OR_RETURN(
      nlohmann::json answer,
      agent::CallAgentPatiently(options_.agent_socket, {{"op", "stats"}}, std::chrono::seconds(2)));
  for (const auto& a : answer.value("attachments", nlohmann::json::array())) {
    if (a.value("id", "") == attachment) {
      return static_cast<int64_t>(a.value("overlay_pages", uint64_t{0}) * kOverlayPageBytes);
    }
  }
  return Status::NotFound("the agent has no attachment " + attachment);
}

}  // namespace lode::snapshotter
