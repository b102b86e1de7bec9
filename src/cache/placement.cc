#include "cache/placement.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

#include "util/sha256.h"

namespace lode::cache {

std::vector<size_t> RankServers(const std::vector<std::string>& servers, const std::string& name,
                                size_t count) {
  std::vector<std::pair<uint64_t, size_t>> scored;
  scored.reserve(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    Sha256Digest d = Sha256::Of(servers[i] + "/" + name);
    uint64_t score;
    std::memcpy(&score, d.data(), sizeof(score));
    scored.emplace_back(score, i);
  }
  count = std::min(count, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(count),
                    scored.end(), std::greater<>());
  std::vector<size_t> out;
  for (size_t i = 0; i < count; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace lode::cache
