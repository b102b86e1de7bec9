// lode images as containerd remote snapshots. When containerd unpacks an
// image it prepares each layer with the label containerd.io/snapshot.ref
// (the layer's chain ID); a chain a tenant's lode image holds is answered
// with a committed placeholder and "already exists", so containerd
// downloads no layer. A container's rootfs over the full chain is the lode
// image attached through the agent and mounted (by containerd) through a
// loop device: reads fetch chunks on demand.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::snapshotter {

// A lode image holding a chain: the first `depth` of its `layers` layers.
struct ChainMatch {
  std::string tenant;
  std::string image;  // the chain tag naming it (catalog/chains.h)
  int depth = 0;
  int layers = 0;
  std::vector<std::string> layer_digests;  // all its layers' (empty: not recorded)
  bool full() const { return depth == layers; }
};

// The label containerd's CRI plugin (and nerdctl) put on each layer being
// unpacked: the stored digests of that layer and every layer above it,
// comma-separated, cut short to keep the label under 4096 bytes.
inline constexpr const char* kImageLayersLabel = "containerd.io/snapshot/cri.image-layers";

// Which of `candidates` (Find's answer) a layer with `labels` belongs to:
// with kImageLayersLabel, the one whose layers from there up are those
// (none: the image being pulled is not a lode image, even if its lower
// layers are one's); without it, the first.
std::optional<ChainMatch> ChooseImage(const std::vector<ChainMatch>& candidates,
                                      const std::map<std::string, std::string>& labels);

struct Attached {
  std::string id;    // the agent's attachment
  std::string path;  // its block file
};

class RemoteImages {
 public:
  virtual ~RemoteImages() = default;
  // The lode images holding `chain_id`, those that are exactly that chain
  // first.
  virtual Result<std::vector<ChainMatch>> Find(const std::string& chain_id) = 0;
  virtual Result<Attached> Attach(const ChainMatch& image, bool writable) = 0;
  // NotFound when the agent no longer has it.
  virtual Status Detach(const std::string& attachment) = 0;
  // What a writable attachment's copy-on-write overlay holds.
  virtual Result<int64_t> OverlayBytes(const std::string& attachment) = 0;
};

struct LodeRemoteOptions {
  std::vector<std::string> tenants;  // whose chain tags are looked up, in order
  std::string agent_socket;
  // A chain not found is looked up again in the store after this long.
  std::chrono::milliseconds refresh_interval{1000};
};

// Chains from the tenants' chain tags (each image's diff_ids are in its
// sealed run config, opened once per image), images through the agent.
class LodeRemote : public RemoteImages {
 public:
  LodeRemote(std::unique_ptr<store::ObjectStore> store, std::unique_ptr<keys::KeyService> keys,
             LodeRemoteOptions options);
  Result<std::vector<ChainMatch>> Find(const std::string& chain_id) override;
  Result<Attached> Attach(const ChainMatch& image, bool writable) override;
  Status Detach(const std::string& attachment) override;
  Result<int64_t> OverlayBytes(const std::string& attachment) override;

 private:
  Status Refresh();
  void Index(const std::string& tenant, const std::string& tag, const manifest::Manifest& image);

  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<keys::KeyService> keys_;
  LodeRemoteOptions options_;
  std::mutex mu_;
  std::map<std::string, std::vector<ChainMatch>> by_chain_;
  std::set<std::string> indexed_;  // tenant/tag -> ref already opened
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace lode::snapshotter
