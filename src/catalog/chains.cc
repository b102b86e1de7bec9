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

std::vector<std::string> DiffIdsOf(const manifest::Manifest& image) {
  nlohmann::json config = nlohmann::json::parse(image.image_config, nullptr, false);
  std::vector<std::string> diff_ids;
  if (!config.is_object() || !config.contains("diff_ids") || !config["diff_ids"].is_array()) {
    return diff_ids;
  }
  for (const auto& id : config["diff_ids"]) {
    if (!id.is_string()) return {};
    diff_ids.push_back(id.get<std::string>());
  }
  return diff_ids;
}

}  // namespace lode::catalog
