#include "vm/snapshot_info.h"

#include <nlohmann/json.hpp>

#include "util/json_int.h"

namespace lode::vm {

using nlohmann::json;

namespace {
constexpr const char* kKey = "lode_snapshot";
constexpr int kVersion = 1;
}  // namespace

nlohmann::json SnapshotRegions(const SnapshotInfo& i) {
  auto region = [](const char* name, uint64_t offset, uint64_t bytes) {
    return nlohmann::json{{"name", name}, {"offset", offset}, {"bytes", bytes}};
  };
  return nlohmann::json::array({region("memory", 0, i.memory_bytes),
                                region("state", i.state_offset, i.state_bytes),
                                region("disk", i.disk_offset, i.disk_bytes)});
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
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("snapshot description: ") + e.what());
  }
  // Each part after the one before, all within the file (no overflow: each
  // is at most the file's size).
  bool fits = i.memory_bytes == (static_cast<uint64_t>(i.memory_mib) << 20) && i.memory_mib > 0 &&
              i.cpus > 0 && i.state_bytes > 0 && i.disk_bytes > 0 &&
              i.memory_bytes <= i.state_offset && i.state_offset <= file_bytes &&
              i.state_bytes <= file_bytes - i.state_offset &&
              i.state_offset + i.state_bytes <= i.disk_offset && i.disk_offset <= file_bytes &&
              i.disk_bytes == file_bytes - i.disk_offset;
  if (!fits) return Status::Corruption("snapshot description: its parts do not fit its file");
  return std::optional<SnapshotInfo>(std::move(i));
}

}  // namespace lode::vm
