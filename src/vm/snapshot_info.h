// What a snapshot's manifest says about it (its config, where an image's
// manifest has the run config): the image it was taken on, where memory,
// device state and disk lie in its block file, and the VM a restore must
// recreate. docs/formats/snapshot.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace lode::vm {

struct SnapshotInfo {
  std::string image;         // ROOT/MANIFEST-ID of the disk image when it was taken
  std::string image_config;  // that image's run config (JSON)
  std::vector<std::string> command;
  bool writable = false;  // the root file system has the guest's overlay (run --rw)
  int64_t created = 0;    // Unix seconds
  // The VM.
  int memory_mib = 0;
  int cpus = 0;
  bool network = false;  // QEMU's user-mode network (a virtio-net device)
  std::string accel;     // "kvm" or "tcg"
  std::string kernel_version;
  std::string device_signature;  // DeviceSignature() of the VM
  // The block file.
  uint64_t memory_bytes = 0;
  // The guest memory pages a restore touches, stored together (runs
  // {first page, count}, 4 KiB pages, in order) at packed_offset rather
  // than in place; none when packed_bytes is 0.
  uint64_t packed_offset = 0, packed_bytes = 0;
  std::vector<std::pair<uint64_t, uint64_t>> packed_pages;
  uint64_t state_offset = 0, state_bytes = 0;
  uint64_t disk_offset = 0, disk_bytes = 0;
};

constexpr uint64_t kSnapshotPageSize = 4096;

// The parts of a snapshot's block file, as the agent's `regions` request
// names byte ranges: [{"name": "memory" | "state" | "disk", "offset",
// "bytes"}]; a packed snapshot's memory is two ranges (in place and
// packed).
nlohmann::json SnapshotRegions(const SnapshotInfo& info);

// The description, with the agent's "page_map" (docs/formats/manifest.md)
// of the packed pages.
std::string EncodeSnapshotInfo(const SnapshotInfo& info);
// nullopt when `config` is an image's run config; a config that claims to
// be a snapshot but is malformed, or whose parts overlap or do not fit in
// `file_bytes`, is Corruption.
Result<std::optional<SnapshotInfo>> DecodeSnapshotInfo(const std::string& config,
                                                       uint64_t file_bytes);

}  // namespace lode::vm
