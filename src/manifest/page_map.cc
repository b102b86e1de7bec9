#include "manifest/page_map.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace lode::manifest {

Result<PageMap> PageMap::FromConfig(const std::string& config, uint64_t file_bytes) {
  PageMap map;
  nlohmann::json j = nlohmann::json::parse(config, nullptr, false);
  if (!j.is_object() || !j.contains("page_map")) return map;
  const nlohmann::json& runs = j["page_map"];
  auto bad = [](const std::string& why) {
    return Status::Corruption("the image's page map " + why);
  };
  if (!runs.is_array()) return bad("is not an array");
  uint64_t pages = file_bytes / kPageSize, next_free = 0;
  for (const nlohmann::json& r : runs) {
    if (!r.is_array() || r.size() != 3 ||
        !std::all_of(r.begin(), r.end(), [](const auto& n) { return n.is_number_unsigned(); })) {
      return bad("holds a run that is not [page, source, count]");
    }
    Run run{r[0].get<uint64_t>(), r[1].get<uint64_t>(), r[2].get<uint64_t>()};
    if (run.count == 0 || run.page < next_free) return bad("has empty or unordered runs");
    if (run.page > pages || run.count > pages - run.page || run.source > pages ||
        run.count > pages - run.source) {
      return bad("points beyond the image");
    }
    next_free = run.page + run.count;
    map.runs_.push_back(run);
  }
  // A page is stored once: no run reads from a page another run moves.
  std::vector<Run> by_source = map.runs_;
  std::sort(by_source.begin(), by_source.end(),
            [](const Run& a, const Run& b) { return a.source < b.source; });
  auto moved = map.runs_.begin();
  for (const Run& r : by_source) {
    while (moved != map.runs_.end() && moved->page + moved->count <= r.source) ++moved;
    if (moved != map.runs_.end() && moved->page < r.source + r.count) {
      return bad("stores pages on pages it moves");
    }
  }
  return map;
}

Status PageMap::ForEachPiece(uint64_t offset, uint64_t bytes, const PieceReader& read) const {
  uint64_t pos = offset, end = offset + bytes;
  // The first run that ends after `pos`.
  auto run = std::upper_bound(runs_.begin(), runs_.end(), pos / kPageSize,
                              [](uint64_t page, const Run& r) { return page < r.page + r.count; });
  while (pos < end) {
    uint64_t n, stored;
    if (run == runs_.end() || pos < run->page * kPageSize) {
      uint64_t next = run == runs_.end() ? end : std::min(end, run->page * kPageSize);
      n = next - pos;
      stored = pos;
    } else {
      uint64_t run_end = (run->page + run->count) * kPageSize;
      n = std::min(end, run_end) - pos;
      stored = run->source * kPageSize + (pos - run->page * kPageSize);
      if (pos + n == run_end) ++run;
    }
    LODE_RETURN_IF_ERROR(read(stored, pos - offset, n));
    pos += n;
  }
  return Status::Ok();
}

}  // namespace lode::manifest
