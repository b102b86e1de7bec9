// Request streams in libCacheSim's oracleGeneral format, so anyone can run
// the L1 and L2 streams of a simulation through other policies: 24-byte
// little-endian records of uint32 time (seconds), uint64 object id, uint32
// size, int64 the index of the object's next request (-1 if none).
#pragma once

#include <string>
#include <vector>

#include "sim/requests.h"
#include "util/status.h"

namespace lode::sim {

// Writes `requests` to `path` (atomically).
Status WriteOracleGeneral(const std::vector<Request>& requests, const std::string& path);

}  // namespace lode::sim
