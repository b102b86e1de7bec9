// Test setup: a key directory with two tenants and a dir:// store in a
// scratch directory; the rule-coverage image and a smaller image sharing its
// base layer are pushed with the lode binary. Oracles: `lode flatten`'s
// bytes (export must equal them), the store's files, and the exit status
// and single error line of each failing command.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = "LODE_KEYS=" + ShellQuote(dir_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + dir_.path() + "/store") + " ";
    ASSERT_EQ(Lode("key create acme").exit_code, 0);
    ASSERT_EQ(Lode("key create globex").exit_code, 0);
    ImageSpec spec = BuildRulesImage({.wide_entries = 3000, .sparse_size = 64 << 20});
    WriteOciLayout(dir_ / "rules", spec, TestCompression::kGzip);
    ImageSpec base_only = spec;
    base_only.layers.resize(1);
    WriteOciLayout(dir_ / "base", base_only, TestCompression::kZstd);
  }

  CommandResult Lode(const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " " + args);
  }

  json PushJson(const std::string& image, const std::string& args) {
    CommandResult r = Lode("push " + ShellQuote(dir_ / image) + " --json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? json::parse(r.output) : json::object();
  }

  std::string Sha(const std::string& path) {
    return RunCommand("sha256sum " + ShellQuote(path)).output.substr(0, 64);
  }

  void ExpectOneLineFailure(const CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  }

  // Complete chunk objects; a killed push may also leave temporary files
  // (".tmp." in the name) that are not chunks.
  size_t StoredChunks() {
    size_t n = 0;
    if (!fs::exists(dir_ / "store/root-0/chunks")) return 0;
    for (const auto& e : fs::directory_iterator(dir_ / "store/root-0/chunks"))
      n += e.is_regular_file() && e.path().filename().string().find(".tmp.") == std::string::npos;
    return n;
  }

  ScratchDir dir_{"lode-push"};
  std::string env_;
};

TEST_F(PushTest, ExportEqualsFlattenAndRepushStoresNothing) {
  ASSERT_EQ(Lode("flatten " + ShellQuote(dir_ / "rules") + " -o " + ShellQuote(dir_ / "flat.ext4"))
                .exit_code,
            0);
  json first = PushJson("rules", "--tenant acme --tag v1");
  EXPECT_GT(first["chunks_new"].get<int>(), 0);
  EXPECT_GT(first["chunks_holes"].get<int>(), 0);
  EXPECT_EQ(
      first["chunks_total"].get<uint64_t>() * 512 * 1024 >= first["image_bytes"].get<uint64_t>(),
      true);

  CommandResult e = Lode("export v1 --tenant acme -o " + ShellQuote(dir_ / "exported.ext4"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_EQ(Sha(dir_ / "exported.ext4"), Sha(dir_ / "flat.ext4"));

  json again = PushJson("rules", "--tenant acme");
  EXPECT_EQ(again["chunks_new"].get<int>(), 0);
  EXPECT_EQ(again["chunks_existing"].get<int>(),
            first["chunks_new"].get<int>() + first["chunks_existing"].get<int>());
}

TEST_F(PushTest, SharedBaseLayerSharesChunks) {
  // Eight incompressible 300 KiB files: about five chunks of base-layer data.
  std::mt19937 rng(9);
  LayerBuilder base;
  base.Dir("lib");
  for (int i = 0; i < 8; ++i) {
    std::string content(300 * 1024, '\0');
    for (char& c : content) c = static_cast<char>(rng());
    base.File("lib/part" + std::to_string(i), content);
  }
  ImageSpec one;
  one.layers = {base.Finish()};
  ImageSpec two = one;
  two.layers.push_back(LayerBuilder().Dir("app").File("app/main", "app").Finish());
  WriteOciLayout(dir_ / "one", one, TestCompression::kGzip);
  WriteOciLayout(dir_ / "two", two, TestCompression::kGzip);
  json first = PushJson("one", "--tenant acme");
  json second = PushJson("two", "--tenant acme");
  // The base layer's data starts chunk-aligned in both images: every chunk
  // of it is shared; only metadata and the app layer are new.
  int data_chunks = (8 * 300 * 1024 + 512 * 1024 - 1) / (512 * 1024);
  EXPECT_EQ(second["chunks_existing"].get<int>(), data_chunks) << second.dump();
  EXPECT_LE(second["chunks_new"].get<int>(), 3) << second.dump();
}

TEST_F(PushTest, TagLsAndInspectDescribeImages) {
  json a = PushJson("base", "--tenant acme --tag base");
  json b = PushJson("rules", "--tenant acme");
  std::string b_ref = b["ref"].get<std::string>();
  ASSERT_EQ(Lode("tag " + b_ref + " app --tenant acme").exit_code, 0);
  CommandResult ls = Lode("ls --tenant acme");
  EXPECT_EQ(ls.output, "app\t" + b_ref + "\nbase\t" + a["ref"].get<std::string>() + "\n");
  CommandResult inspect = Lode("inspect app --tenant acme --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  json j = json::parse(inspect.output);
  EXPECT_EQ(j["chunks"], b["chunks_total"]);
  EXPECT_EQ(j["holes"], b["chunks_holes"]);
  EXPECT_EQ(j["other_manifests_opened"], 1);
  EXPECT_EQ(j["run_config"]["entrypoint"][0], "/usr/bin/tool");
  EXPECT_EQ(Lode("ls --tenant globex").output, "");
}

TEST_F(PushTest, KilledPushLeavesNoManifestAndRerunUploadsOnlyTheRest) {
  std::mt19937 rng(3);
  LayerBuilder big;
  big.Dir("blobs");
  for (int i = 0; i < 40; ++i) {
    std::string content(10 << 20, '\0');
    for (size_t k = 0; k < content.size(); k += 4) {
      uint32_t r = static_cast<uint32_t>(rng());
      std::memcpy(&content[k], &r, 4);
    }
    big.File("blobs/b" + std::to_string(i), content);
  }
  ImageSpec spec;
  spec.layers = {big.Finish()};
  WriteOciLayout(dir_ / "big", spec, TestCompression::kNone);
  std::string chunks = dir_ / "store/root-0/chunks";
  // Kill -9 the push once some chunks are durable, well before it can finish.
  CommandResult killed =
      RunCommand(env_ + LodeBinary() + " push " + ShellQuote(dir_ / "big") +
                 " --tenant acme --tag big --compress none & pid=$!;"
                 " for i in $(seq 3000); do [ $(ls " +
                 ShellQuote(chunks) +
                 " 2>/dev/null | grep -vc '[.]tmp[.]') -ge 8 ] && break; sleep 0.005; done;"
                 " kill -9 $pid; wait $pid; echo killed $?");
  ASSERT_NE(killed.output.find("killed 137"), std::string::npos) << killed.output;
  EXPECT_FALSE(fs::exists(dir_ / "store/root-0/manifests") &&
               !fs::is_empty(dir_ / "store/root-0/manifests"));
  EXPECT_FALSE(fs::exists(dir_ / "store/refs/acme/big"));
  size_t durable = StoredChunks();
  ASSERT_GE(durable, 8u);
  json rerun = PushJson("big", "--tenant acme --tag big --compress none");
  // Exactly the chunks the killed push made durable are reused; the rerun
  // uploads the rest, and the image is complete.
  EXPECT_EQ(rerun["chunks_existing"].get<size_t>(), durable);
  EXPECT_EQ(rerun["chunks_new"].get<size_t>(),
            rerun["chunks_total"].get<size_t>() - rerun["chunks_holes"].get<size_t>() - durable);
  EXPECT_EQ(StoredChunks(), durable + rerun["chunks_new"].get<size_t>());
  // What the killed push was writing when it died goes with the next sweep.
  size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(chunks))
    leftovers += e.path().filename().string().find(".tmp.") != std::string::npos;
  CommandResult sweep = Lode("gc sweep --older-than 2s --abandoned-after 0s --json");
  ASSERT_EQ(sweep.exit_code, 0) << sweep.output;
  EXPECT_EQ(json::parse(sweep.output)["abandoned_puts_removed"].get<size_t>(), leftovers);
  EXPECT_EQ(StoredChunks(), durable + rerun["chunks_new"].get<size_t>());
  for (const auto& e : fs::directory_iterator(chunks))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  CommandResult e = Lode("export big --tenant acme -o " + ShellQuote(dir_ / "big.ext4"));
  EXPECT_EQ(e.exit_code, 0) << e.output;
}

TEST_F(PushTest, TenantsDeduplicateButCannotOpenEachOthersManifests) {
  json a = PushJson("rules", "--tenant acme");
  json b = PushJson("rules", "--tenant globex");
  EXPECT_EQ(b["chunks_new"].get<int>(), 0);
  EXPECT_NE(a["ref"], b["ref"]);
  std::string b_ref = b["ref"].get<std::string>();
  ExpectOneLineFailure(Lode("export " + b_ref + " --tenant acme -o " + ShellQuote(dir_ / "x.ext4")),
                       "another tenant");
  EXPECT_FALSE(fs::exists(dir_ / "x.ext4"));
  // A copy of the key directory without secrets can push but not open.
  fs::copy(dir_ / "keys", dir_ / "pubkeys", fs::copy_options::recursive);
  fs::remove(dir_ / "pubkeys/tenants/acme.key");
  std::string pub_env = "LODE_KEYS=" + ShellQuote(dir_ / "pubkeys") + " ";
  CommandResult p =
      RunCommand(pub_env + "LODE_STORE=" + ShellQuote("dir://" + dir_.path() + "/store") + " " +
                 LodeBinary() + " push " + ShellQuote(dir_ / "base") + " --tenant acme");
  EXPECT_EQ(p.exit_code, 0) << p.output;
  CommandResult o =
      RunCommand(pub_env + "LODE_STORE=" + ShellQuote("dir://" + dir_.path() + "/store") + " " +
                 LodeBinary() + " export " + a["ref"].get<std::string>() + " --tenant acme -o " +
                 ShellQuote(dir_ / "y.ext4"));
  ExpectOneLineFailure(o, "no secret key");
}

TEST_F(PushTest, AnotherSaltDomainDoesNotDeduplicate) {
  json a = PushJson("rules", "--tenant acme");
  json b = PushJson("rules", "--tenant acme --salt-domain popular");
  EXPECT_EQ(b["chunks_existing"].get<int>(), 0);
  EXPECT_EQ(b["chunks_new"].get<int>(), a["chunks_new"].get<int>());
}

TEST_F(PushTest, SaltRotationStopsDeduplicationAndKeepsOldImagesReadable) {
  json before = PushJson("rules", "--tenant acme --tag before");
  CommandResult rotate = Lode("key rotate-salt");
  ASSERT_EQ(rotate.exit_code, 0) << rotate.output;
  EXPECT_NE(rotate.output.find("epoch 1"), std::string::npos) << rotate.output;
  json after = PushJson("rules", "--tenant acme --tag after");
  EXPECT_EQ(after["chunks_existing"].get<int>(), 0);
  EXPECT_EQ(after["chunks_new"].get<int>(), before["chunks_new"].get<int>());
  for (const char* tag : {"before", "after"}) {
    CommandResult e = Lode(std::string("export ") + tag + " --tenant acme -o " +
                           ShellQuote(dir_ / (std::string(tag) + ".ext4")));
    EXPECT_EQ(e.exit_code, 0) << e.output;
  }
  EXPECT_EQ(Sha(dir_ / "before.ext4"), Sha(dir_ / "after.ext4"));
}

TEST_F(PushTest, TamperedOrMissingChunkFailsExportNamingTheChunk) {
  json a = PushJson("rules", "--tenant acme");
  std::string ref = a["ref"].get<std::string>();
  std::vector<fs::path> chunks;
  for (const auto& e : fs::directory_iterator(dir_ / "store/root-0/chunks"))
    chunks.push_back(e.path());
  ASSERT_FALSE(chunks.empty());
  std::sort(chunks.begin(), chunks.end());
  {
    std::fstream f(chunks[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('\x7f');
  }
  ExpectOneLineFailure(Lode("export " + ref + " --tenant acme -o " + ShellQuote(dir_ / "bad.ext4")),
                       "chunk ");
  EXPECT_FALSE(fs::exists(dir_ / "bad.ext4"));
  fs::remove(chunks[0]);
  ExpectOneLineFailure(Lode("export " + ref + " --tenant acme -o " + ShellQuote(dir_ / "bad.ext4")),
                       "not found");
  EXPECT_FALSE(fs::exists(dir_ / "bad.ext4"));
}

TEST_F(PushTest, TamperedManifestIsDetected) {
  json a = PushJson("rules", "--tenant acme");
  std::string ref = a["ref"].get<std::string>();
  fs::path manifest = dir_ / ("store/root-0/manifests/" + ref.substr(ref.find('/') + 1));
  {
    std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x01');
  }
  ExpectOneLineFailure(Lode("export " + ref + " --tenant acme -o " + ShellQuote(dir_ / "m.ext4")),
                       "manifest");
}

TEST_F(PushTest, BadInputGetsOneLine) {
  ExpectOneLineFailure(Lode("push " + ShellQuote(dir_ / "rules") + " --tenant nobody"), "nobody");
  ExpectOneLineFailure(
      Lode("push " + ShellQuote(dir_ / "rules") + " --tenant acme --store ftp://x/y"), "scheme");
  ExpectOneLineFailure(Lode("export not-a-ref/xyz --tenant acme -o " + ShellQuote(dir_ / "z")),
                       "reference");
  ExpectOneLineFailure(Lode("export missing-tag --tenant acme -o " + ShellQuote(dir_ / "z")),
                       "missing-tag");
  ExpectOneLineFailure(RunCommand("LODE_KEYS=/proc/no-such-dir/keys " + LodeBinary() + " key list"),
                       "keys");
  EXPECT_EQ(StoredChunks(), 0u);  // the failed pushes stored nothing
}

}  // namespace
}  // namespace lode::testing
