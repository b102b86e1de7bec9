#include "catalog/chains.h"

#include <nlohmann/json.hpp>

#include "util/sha256.h"

namespace lode::catalog {

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  for (const std::string& diff_id : diff_ids) {
    if (chain.empty()) {
      chain.push_back(diff_id);
    } else {
      chain.push_back("sha256:" + ToHex(Sha256::Of(chain.back() + " " + diff_id)));
    }
  }
  return chain;
}

std::string ChainTag(const std::string& chain_id) {
  std::string hex = chain_id.starts_with("sha256:") ? chain_id.substr(7) : chain_id;
  return kChainTagPrefix + hex;
}

namespace {

std::vector<std::string> StringsOf(const manifest::Manifest& image, const char* field) {
  nlohmann::json config = nlohmann::json::parse(image.image_config, nullptr, false);
  std::vector<std::string> strings;
  if (!config.is_object() || !config.contains(field) || !config[field].is_array()) return strings;
  for (const auto& s : config[field]) {
    if (!s.is_string()) return {};
    strings.push_back(s.get<std::string>());
  }
  return strings;
}

}  // namespace

std::vector<std::string> DiffIdsOf(const manifest::Manifest& image) {
  return StringsOf(image, "diff_ids");
}

std::vector<std::string> LayerDigestsOf(const manifest::Manifest& image) {
  return StringsOf(image, "layer_digests");
}

}  // namespace lode::catalog
