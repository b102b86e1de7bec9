// containerd names an image's layers by chain IDs (OCI image-spec): the
// first layer's is its diff_id, each next one is
// sha256(previous chain ID + " " + its diff_id). A pushed image records its
// layers' diff_ids in its (sealed) run config, and push tags it
// "chain.<hex of its full chain ID>", so a worker can find the lode image
// of a chain containerd asks for; gc keeps and migrates the tag like any.
#pragma once

#include <string>
#include <vector>

#include "manifest/manifest.h"

namespace lode::catalog {

// The chain ID of every prefix of `diff_ids` ("sha256:<hex>" each), bottom
// layer first.
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);
// "chain.<hex>" for "sha256:<hex>".
std::string ChainTag(const std::string& chain_id);
inline constexpr const char* kChainTagPrefix = "chain.";
// The diff_ids an image's run config records (empty: none, e.g. a plain
// layer list or a push before lode recorded them).
std::vector<std::string> DiffIdsOf(const manifest::Manifest& image);
// The layers' stored (compressed) digests it records, as registries and
// containerd's CRI labels name layers (empty: none recorded).
std::vector<std::string> LayerDigestsOf(const manifest::Manifest& image);

}  // namespace lode::catalog
