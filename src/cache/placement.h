// Where an L2 fleet keeps a chunk's stripes: rendezvous (highest random
// weight) hashing, each server scored by the first 8 bytes of
// SHA-256("<server>/<chunk name>"), highest first. Adding or removing a
// server moves only the stripes it gains or held. Used by the memcached
// tier and by the fleet simulator, so both place stripes alike.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace lode::cache {

// The indices into `servers` of the `count` best-ranked servers for
// chunk `name` (count at most servers.size()).
std::vector<size_t> RankServers(const std::vector<std::string>& servers, const std::string& name,
                                size_t count);

}  // namespace lode::cache
