#include "snapshotter/remote.h"

#include <algorithm>
#include <cstdio>

#include "agent/api.h"
#include "catalog/catalog.h"
#include "catalog/chains.h"
#include "snapshotter/metadata.h"

namespace lode::snapshotter {

// The agent's overlay keeps writes in pages of this size (agent/overlay.h).
constexpr uint64_t kOverlayPageBytes = 4096;
namespace {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

// containerd's limit on a label (kMaxLabelBytes) cuts the list short.
constexpr size_t kDigestBytes = 71;  // "sha256:" and 64 hex digits

bool LayersMatch(const ChainMatch& image, const std::vector<std::string>& pulled, bool cut_short) {
  if (image.layer_digests.size() != static_cast<size_t>(image.layers)) return false;
  std::vector<std::string> above(image.layer_digests.begin() + (image.depth - 1),
                                 image.layer_digests.end());
  if (above == pulled) return true;
  return cut_short && pulled.size() < above.size() &&
         std::equal(pulled.begin(), pulled.end(), above.begin());
}

}  // namespace

std::optional<ChainMatch> ChooseImage(const std::vector<ChainMatch>& candidates,
                                      const std::map<std::string, std::string>& labels) {
  auto layers = labels.find(kImageLayersLabel);
  if (layers == labels.end()) {
    if (candidates.empty()) return std::nullopt;
    return candidates.front();
  }
  std::vector<std::string> pulled = SplitCommas(layers->second);
  bool cut_short = layers->first.size() + layers->second.size() + 1 + kDigestBytes > kMaxLabelBytes;
  for (const ChainMatch& image : candidates) {
    if (LayersMatch(image, pulled, cut_short)) return image;
  }
  return std::nullopt;
}

LodeRemote::LodeRemote(std::unique_ptr<store::ObjectStore> store,
                       std::unique_ptr<keys::KeyService> keys, LodeRemoteOptions options)
    : store_(std::move(store)), keys_(std::move(keys)), options_(std::move(options)) {}

Result<std::vector<ChainMatch>> LodeRemote::Find(const std::string& chain_id) {
  std::lock_guard lock(mu_);
  auto found = by_chain_.find(chain_id);
  if (found == by_chain_.end() &&
      std::chrono::steady_clock::now() - refreshed_ >= options_.refresh_interval) {
    LODE_RETURN_IF_ERROR(Refresh());
    found = by_chain_.find(chain_id);
  }
  if (found == by_chain_.end()) return std::vector<ChainMatch>();
  return found->second;
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
      Index(tenant, tag, *image);
    }
  }
  return Status::Ok();
}

void LodeRemote::Index(const std::string& tenant, const std::string& tag,
                       const manifest::Manifest& image) {
  std::vector<std::string> chain = catalog::ChainIds(catalog::DiffIdsOf(image));
  std::vector<std::string> digests = catalog::LayerDigestsOf(image);
  int layers = static_cast<int>(chain.size());
  for (int depth = 1; depth <= layers; ++depth) {
    std::vector<ChainMatch>& candidates = by_chain_[chain[depth - 1]];
    bool known = false;
    for (const ChainMatch& c : candidates) known |= c.tenant == tenant && c.image == tag;
    if (known) continue;
    candidates.push_back({tenant, tag, depth, layers, digests});
    // An image that is exactly this chain can be mounted; longer ones
    // holding it as a prefix cannot: it comes first.
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](const ChainMatch& c) { return c.full(); });
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
