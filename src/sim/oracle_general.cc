#include "sim/oracle_general.h"

#include <bit>
#include <cstring>

#include "util/file.h"

namespace lode::sim {

Status WriteOracleGeneral(const std::vector<Request>& requests, const std::string& path) {
  static_assert(std::endian::native == std::endian::little, "records are little-endian");
  constexpr size_t kRecord = 24;
  std::vector<int64_t> next = NextRequestIndices(requests);
  std::string out(requests.size() * kRecord, '\0');
  for (size_t i = 0; i < requests.size(); ++i) {
    char* r = out.data() + i * kRecord;
    std::memcpy(r, &requests[i].time_s, 4);
    std::memcpy(r + 4, &requests[i].key, 8);
    std::memcpy(r + 12, &requests[i].bytes, 4);
    std::memcpy(r + 16, &next[i], 8);
  }
  return WriteFileAtomically(path, out, AtomicFile::Durability::kUnsynced);
}

}  // namespace lode::sim
