#include "vm/snapshot_info.h"

#include <nlohmann/json.hpp>

#include "util/json_int.h"

namespace lode::vm {

using nlohmann::json;

namespace {
constexpr const char* kKey = "lode_snapshot";
constexpr int kVersion = 1;

// The page map's runs, which must move guest memory pages, in order, to
// consecutive pages from packed_offset on, filling packed_bytes.
Status DecodePackedPages(const json& map, SnapshotInfo& i) {
  auto bad = [] { return Status::Corruption("snapshot description: a malformed page map"); };
  if (!map.is_array() || (map.empty() != (i.packed_bytes == 0))) return bad();
  uint64_t memory_pages = i.memory_bytes / kSnapshotPageSize;
  uint64_t source = i.packed_offset / kSnapshotPageSize, next_page = 0;
  if (i.packed_offset % kSnapshotPageSize != 0) return bad();
  for (const json& run : map) {
    if (!run.is_array() || run.size() != 3) return bad();
    uint64_t page = IntegerOf<uint64_t>(run[0]), from = IntegerOf<uint64_t>(run[1]),
             count = IntegerOf<uint64_t>(run[2]);
    if (count == 0 || page < next_page || page > memory_pages || count > memory_pages - page ||
        from != source) {
      return bad();
    }
    i.packed_pages.emplace_back(page, count);
    next_page = page + count;
    source += count;
  }
  if ((source - i.packed_offset / kSnapshotPageSize) * kSnapshotPageSize != i.packed_bytes) {
    return bad();
  }
  return Status::Ok();
}
}  // namespace

nlohmann::json SnapshotRegions(const SnapshotInfo& i) {
  auto region = [](const char* name, uint64_t offset, uint64_t bytes) {
    return nlohmann::json{{"name", name}, {"offset", offset}, {"bytes", bytes}};
  };
  nlohmann::json regions = nlohmann::json::array({region("memory", 0, i.memory_bytes)});
  if (i.packed_bytes > 0) regions.push_back(region("memory", i.packed_offset, i.packed_bytes));
  regions.push_back(region("state", i.state_offset, i.state_bytes));
  regions.push_back(region("disk", i.disk_offset, i.disk_bytes));
  return regions;
}

std::string EncodeSnapshotInfo(const SnapshotInfo& i) {
  json j = {{kKey, kVersion},
            {"image", i.image},
            {"image_config", i.image_config},
            {"command", i.command},
            {"writable", i.writable},
            {"created", i.created},
            {"vm",
             {{"memory_mib", i.memory_mib},
              {"cpus", i.cpus},
              {"network", i.network ? "user" : "none"},
              {"accel", i.accel},
              {"kernel_version", i.kernel_version},
              {"device_signature", i.device_signature}}},
            {"layout",
             {{"memory_bytes", i.memory_bytes},
              {"state_offset", i.state_offset},
              {"state_bytes", i.state_bytes},
              {"disk_offset", i.disk_offset},
              {"disk_bytes", i.disk_bytes}}}};
  if (i.packed_bytes > 0) {
    j["layout"]["packed_offset"] = i.packed_offset;
    j["layout"]["packed_bytes"] = i.packed_bytes;
    json map = json::array();
    uint64_t source = i.packed_offset / kSnapshotPageSize;
    for (auto [page, count] : i.packed_pages) {
      map.push_back({page, source, count});
      source += count;
    }
    j["page_map"] = map;
  }
  return j.dump();
}

Result<std::optional<SnapshotInfo>> DecodeSnapshotInfo(const std::string& config,
                                                       uint64_t file_bytes) {
  json j = json::parse(config, nullptr, false);
  if (!j.is_object() || !j.contains(kKey)) return std::optional<SnapshotInfo>();
  SnapshotInfo i;
  try {
    if (IntegerOf<int>(j.at(kKey)) != kVersion) {
      return Status::Corruption("snapshot format " + j.at(kKey).dump() + " is not known here");
    }
    i.image = j.at("image").get<std::string>();
    i.image_config = j.at("image_config").get<std::string>();
    i.command = j.at("command").get<std::vector<std::string>>();
    i.writable = j.value("writable", false);
    i.created = IntegerOf<int64_t>(j.at("created"));
    const json& vm = j.at("vm");
    i.memory_mib = IntegerOf<int>(vm.at("memory_mib"));
    i.cpus = IntegerOf<int>(vm.at("cpus"));
    i.network = vm.value("network", "none") == "user";  // snapshots before networks had none
    i.accel = vm.at("accel").get<std::string>();
    i.kernel_version = vm.at("kernel_version").get<std::string>();
    i.device_signature = vm.at("device_signature").get<std::string>();
    const json& l = j.at("layout");
    i.memory_bytes = IntegerOf<uint64_t>(l.at("memory_bytes"));
    i.state_offset = IntegerOf<uint64_t>(l.at("state_offset"));
    i.state_bytes = IntegerOf<uint64_t>(l.at("state_bytes"));
    i.disk_offset = IntegerOf<uint64_t>(l.at("disk_offset"));
    i.disk_bytes = IntegerOf<uint64_t>(l.at("disk_bytes"));
    i.packed_offset = IntegerOf<uint64_t>(l.value("packed_offset", json(0)));
    i.packed_bytes = IntegerOf<uint64_t>(l.value("packed_bytes", json(0)));
    LODE_RETURN_IF_ERROR(DecodePackedPages(j.value("page_map", json::array()), i));
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("snapshot description: ") + e.what());
  }
  // Each part after the one before, all within the file (no overflow: each
  // is at most the file's size).
  uint64_t memory_end = i.memory_bytes;
  if (i.packed_bytes > 0) {
    if (i.packed_offset < memory_end || i.packed_offset > file_bytes ||
        i.packed_bytes > file_bytes - i.packed_offset) {
      return Status::Corruption("snapshot description: its packed pages do not fit its file");
    }
    memory_end = i.packed_offset + i.packed_bytes;
  }
  bool fits = i.memory_bytes == (static_cast<uint64_t>(i.memory_mib) << 20) && i.memory_mib > 0 &&
              i.cpus > 0 && i.state_bytes > 0 && i.disk_bytes > 0 && memory_end <= i.state_offset &&
              i.state_offset <= file_bytes && i.state_bytes <= file_bytes - i.state_offset &&
              i.state_offset + i.state_bytes <= i.disk_offset && i.disk_offset <= file_bytes &&
              i.disk_bytes == file_bytes - i.disk_offset;
  if (!fits) return Status::Corruption("snapshot description: its parts do not fit its file");
  return std::optional<SnapshotInfo>(std::move(i));
}

}  // namespace lode::vm
