#include "vm/snapshot_info.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

namespace lode::vm {
namespace {

SnapshotInfo Example() {
  SnapshotInfo i;
  i.image = "root-0/abc";
  i.image_config = R"({"cmd":["python3"]})";
  i.command = {"python3", "-c", "print(1)"};
  i.writable = true;
  i.created = 1796028594;
  i.memory_mib = 512;
  i.cpus = 2;
  i.network = true;
  i.accel = "tcg";
  i.kernel_version = "6.1.0-57-amd64";
  i.device_signature = "QEMU emulator version 7.2.22 -M microvm";
  i.memory_bytes = 512ull << 20;
  i.state_offset = 512ull << 20;
  i.state_bytes = 63280;
  i.disk_offset = (512ull << 20) + (512 << 10);
  i.disk_bytes = 300 << 20;
  return i;
}

uint64_t FileBytes(const SnapshotInfo& i) { return i.disk_offset + i.disk_bytes; }

TEST(SnapshotInfoTest, RoundTrips) {
  SnapshotInfo in = Example();
  Result<std::optional<SnapshotInfo>> out =
      DecodeSnapshotInfo(EncodeSnapshotInfo(in), FileBytes(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_TRUE(out->has_value());
  const SnapshotInfo& o = **out;
  EXPECT_EQ(o.image, in.image);
  EXPECT_EQ(o.image_config, in.image_config);
  EXPECT_EQ(o.command, in.command);
  EXPECT_TRUE(o.writable);
  EXPECT_EQ(o.created, in.created);
  EXPECT_EQ(o.memory_mib, 512);
  EXPECT_EQ(o.cpus, 2);
  EXPECT_TRUE(o.network);
  EXPECT_EQ(o.accel, "tcg");
  EXPECT_EQ(o.kernel_version, in.kernel_version);
  EXPECT_EQ(o.device_signature, in.device_signature);
  EXPECT_EQ(o.state_offset, in.state_offset);
  EXPECT_EQ(o.state_bytes, in.state_bytes);
  EXPECT_EQ(o.disk_offset, in.disk_offset);
  EXPECT_EQ(o.disk_bytes, in.disk_bytes);
}

TEST(SnapshotInfoTest, RegionsAreTheThreePartsOfTheFile) {
  SnapshotInfo in = Example();
  nlohmann::json regions = SnapshotRegions(in);
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[0],
            (nlohmann::json{{"name", "memory"}, {"offset", 0}, {"bytes", in.memory_bytes}}));
  EXPECT_EQ(
      regions[1],
      (nlohmann::json{{"name", "state"}, {"offset", in.state_offset}, {"bytes", in.state_bytes}}));
  EXPECT_EQ(
      regions[2],
      (nlohmann::json{{"name", "disk"}, {"offset", in.disk_offset}, {"bytes", in.disk_bytes}}));
}

// Example() with pages 3-4 and 100 of its memory stored in a packed part
// between memory and state.
SnapshotInfo Packed() {
  SnapshotInfo i = Example();
  i.packed_offset = i.memory_bytes;
  i.packed_pages = {{3, 2}, {100, 1}};
  i.packed_bytes = 3 * kSnapshotPageSize;
  i.state_offset += 512 << 10;
  i.disk_offset += 512 << 10;
  return i;
}

TEST(SnapshotInfoTest, PackedPagesRoundTripAndAreTheAgentsPageMap) {
  SnapshotInfo in = Packed();
  std::string text = EncodeSnapshotInfo(in);
  uint64_t first = in.packed_offset / kSnapshotPageSize;
  EXPECT_EQ(nlohmann::json::parse(text)["page_map"],
            nlohmann::json::parse("[[3, " + std::to_string(first) + ", 2], [100, " +
                                  std::to_string(first + 2) + ", 1]]"));
  Result<std::optional<SnapshotInfo>> out = DecodeSnapshotInfo(text, FileBytes(in));
  ASSERT_TRUE(out.ok() && out->has_value()) << out.status().ToString();
  EXPECT_EQ((*out)->packed_offset, in.packed_offset);
  EXPECT_EQ((*out)->packed_bytes, in.packed_bytes);
  EXPECT_EQ((*out)->packed_pages, in.packed_pages);
  nlohmann::json regions = SnapshotRegions(in);
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[1],
            (nlohmann::json{
                {"name", "memory"}, {"offset", in.packed_offset}, {"bytes", in.packed_bytes}}));
  // Unpacked snapshots say nothing of it.
  EXPECT_FALSE(nlohmann::json::parse(EncodeSnapshotInfo(Example())).contains("page_map"));
}

TEST(SnapshotInfoTest, PageMapsThatDoNotMatchThePackedPartAreCorruption) {
  SnapshotInfo in = Packed();
  auto decode = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = nlohmann::json::parse(EncodeSnapshotInfo(in));
    change(j);
    return DecodeSnapshotInfo(j.dump(), FileBytes(in)).status().code();
  };
  EXPECT_EQ(decode([](nlohmann::json&) {}), StatusCode::kOk);
  EXPECT_EQ(decode([](nlohmann::json& j) { j.erase("page_map"); }), StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["page_map"][1][1] = 7; }),  // not consecutive
            StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["page_map"][1][0] = 4; }),  // overlapping
            StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["page_map"][1][0] = 1 << 20; }),  // past memory
            StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["layout"]["packed_bytes"] = 4 * 4096; }),
            StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["layout"]["packed_offset"] = 4096; }),  // in memory
            StatusCode::kCorruption);
  EXPECT_EQ(decode([](nlohmann::json& j) { j["page_map"][0][2] = -1; }), StatusCode::kCorruption);
}

TEST(SnapshotInfoTest, WritableIsOptionalAndABoolean) {
  SnapshotInfo in = Example();
  nlohmann::json j = nlohmann::json::parse(EncodeSnapshotInfo(in));
  j.erase("writable");
  Result<std::optional<SnapshotInfo>> read_only = DecodeSnapshotInfo(j.dump(), FileBytes(in));
  ASSERT_TRUE(read_only.ok() && read_only->has_value()) << read_only.status().ToString();
  EXPECT_FALSE((*read_only)->writable);
  j["writable"] = "yes";
  EXPECT_EQ(DecodeSnapshotInfo(j.dump(), FileBytes(in)).status().code(), StatusCode::kCorruption);
}

TEST(SnapshotInfoTest, AnImagesRunConfigIsNoSnapshot) {
  Result<std::optional<SnapshotInfo>> out =
      DecodeSnapshotInfo(R"({"cmd":[],"entrypoint":["/bin/sh"],"env":[]})", 1 << 20);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->has_value());
}

TEST(SnapshotInfoTest, PartsThatOverlapOrMissTheFileAreCorruption) {
  auto decode = [](const SnapshotInfo& i, uint64_t file_bytes) {
    return DecodeSnapshotInfo(EncodeSnapshotInfo(i), file_bytes).status().code();
  };
  SnapshotInfo i = Example();
  EXPECT_EQ(decode(i, FileBytes(i) + 1), StatusCode::kCorruption);  // the disk must end the file
  SnapshotInfo overlap = Example();
  overlap.state_offset -= 4096;  // inside memory
  EXPECT_EQ(decode(overlap, FileBytes(overlap)), StatusCode::kCorruption);
  SnapshotInfo state_over_disk = Example();
  state_over_disk.state_bytes = (512 << 10) + 1;
  EXPECT_EQ(decode(state_over_disk, FileBytes(state_over_disk)), StatusCode::kCorruption);
  SnapshotInfo memory = Example();
  memory.memory_mib = 256;  // memory_bytes says 512 MiB
  EXPECT_EQ(decode(memory, FileBytes(memory)), StatusCode::kCorruption);
  SnapshotInfo huge = Example();
  huge.state_bytes = UINT64_MAX;
  EXPECT_EQ(decode(huge, FileBytes(huge)), StatusCode::kCorruption);
  EXPECT_EQ(DecodeSnapshotInfo(R"({"lode_snapshot":2})", 1).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeSnapshotInfo(R"({"lode_snapshot":1,"image":7})", 1).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace lode::vm
