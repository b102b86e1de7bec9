// Test setup: the rule-coverage image (testing/rules_image.cc) is written as
// OCI layouts with gzip, zstd and plain layers, as a docker-archive tarball
// and as plain layer tarballs; `lode flatten` turns each into ext4. The
// oracles are independent of lode's code: e2fsck, the kernel's ext4 driver,
// and umoci's unpack of the same layout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/layer_builder.h"
#include "testing/mount.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"
#include "testing/tree_compare.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

std::string FileSha256(const std::string& path) {
  CommandResult r = RunCommand("sha256sum " + ShellQuote(path));
  return r.output.substr(0, 64);
}

CommandResult Flatten(const std::string& args) {
  return RunCommand(LodeBinary() + " flatten " + args);
}

// Built once per process; a failure to build fails every test that needs it
// (rather than skipping it, as a failing SetUpTestSuite would).
struct RulesFixture {
  ScratchDir dir{"lode-rules"};
  ImageSpec spec = BuildRulesImage();
  CommandResult flatten;
  RulesFixture() {
    WriteOciLayout(dir / "oci-gzip", spec, TestCompression::kGzip);
    flatten = Flatten(ShellQuote(dir / "oci-gzip") + " -o " + ShellQuote(dir / "rules.ext4"));
  }
};

class FlattenRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A static object, destroyed at exit: its scratch directory goes with it.
    static RulesFixture fixture;
    fixture_ = &fixture;
    ASSERT_EQ(fixture_->flatten.exit_code, 0) << fixture_->flatten.output;
  }
  std::string Image() const { return fixture_->dir / "rules.ext4"; }
  const ScratchDir& dir() const { return fixture_->dir; }
  const ImageSpec& spec() const { return fixture_->spec; }

  RulesFixture* fixture_ = nullptr;
};

TEST_F(FlattenRulesTest, E2fsckFindsNothing) {
  CommandResult r = RunCommand("e2fsck -fn " + ShellQuote(Image()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(FlattenRulesTest, MountedTreeEqualsUmociUnpack) {
  std::string unpacked = dir() / "umoci-rootfs";
  CommandResult u = RunCommand("umoci raw unpack --image " + ShellQuote(dir() / "oci-gzip") +
                               ":latest " + ShellQuote(unpacked));
  ASSERT_EQ(u.exit_code, 0) << u.output;
  LoopMount mount(Image(), dir() / "mnt");
  ASSERT_TRUE(mount.ok()) << mount.error();
  std::vector<std::string> diffs =
      CompareTrees(dir() / "mnt", unpacked, {.ignore = {"lost+found"}});
  fs::remove_all(unpacked);  // umoci writes the 5 GiB sparse file out in full
  std::string all;
  for (const std::string& d : diffs) all += d + "\n";
  EXPECT_TRUE(diffs.empty()) << all;
  // Spot checks of the rules the comparison covers, so a broken oracle shows.
  std::ifstream link(dir() / "mnt/data/link");
  std::string content((std::istreambuf_iterator<char>(link)), {});
  EXPECT_EQ(content, "original content\n");
  EXPECT_FALSE(fs::exists(dir() / "mnt/usr/bin/tool"));
  EXPECT_FALSE(fs::exists(dir() / "mnt/opaque/lower-a"));
  EXPECT_EQ(fs::file_size(dir() / "mnt/data/sparse-5g"), 5ull << 30);
}

TEST_F(FlattenRulesTest, SameBytesForEveryCompressionAndInputFormat) {
  std::string want = FileSha256(Image());
  ASSERT_EQ(want.size(), 64u);
  auto expect_same = [&](const std::string& input_args, const std::string& name,
                         const std::string& out_dir = "") {
    std::string out = (out_dir.empty() ? dir().path() : out_dir) + "/" + name + ".ext4";
    CommandResult r = Flatten(input_args + " -o " + ShellQuote(out));
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    EXPECT_EQ(FileSha256(out), want) << name;
    fs::remove(out);
    fs::remove(out + ".config.json");
  };
  expect_same(ShellQuote(dir() / "oci-gzip"), "again");
  // tmpfs refuses O_DIRECT and FALLOC_FL_INSERT_RANGE: the fallback paths.
  expect_same(ShellQuote(dir() / "oci-gzip"), "lode-tmpfs-test-" + std::to_string(::getpid()),
              "/dev/shm");
  WriteOciLayout(dir() / "oci-zstd", spec(), TestCompression::kZstd);
  expect_same(ShellQuote(dir() / "oci-zstd"), "zstd");
  WriteOciLayout(dir() / "oci-plain", spec(), TestCompression::kNone);
  expect_same(ShellQuote(dir() / "oci-plain"), "plain");
  WriteDockerArchive(dir() / "docker.tar", spec());
  expect_same(ShellQuote(dir() / "docker.tar"), "docker-archive");
  std::string layer_args;
  for (size_t i = 0; i < spec().layers.size(); ++i) {
    std::string path = dir() / ("layer" + std::to_string(i) + ".tar.zst");
    std::ofstream(path, std::ios::binary) << Compress(spec().layers[i], TestCompression::kZstd);
    layer_args += " --layer " + ShellQuote(path);
  }
  expect_same(layer_args, "layer-tarballs");
}

TEST_F(FlattenRulesTest, WritableMountUsesHeadroomAndStaysConsistent) {
  std::string copy = dir() / "writable.ext4";
  ASSERT_EQ(
      RunCommand("cp --sparse=always " + ShellQuote(Image()) + " " + ShellQuote(copy)).exit_code,
      0);
  {
    LoopMount mount(copy, dir() / "mnt-rw", /*writable=*/true);
    ASSERT_TRUE(mount.ok()) << mount.error();
    std::string m = dir() / "mnt-rw";
    CommandResult w = RunCommand("set -e; cd " + ShellQuote(m) +
                                 "; head -c 20M /dev/urandom > new-file; mkdir -p new/dir;"
                                 " for i in $(seq 200); do echo $i > new/dir/f$i; done;"
                                 " rm -r wide/file-00001 data/link; mv etc/passwd etc/passwd.old;"
                                 " echo appended >> data/orig; sync");
    EXPECT_EQ(w.exit_code, 0) << w.output;
  }
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(copy));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

TEST_F(FlattenRulesTest, RunConfigIsKeptBesideTheImage) {
  std::ifstream config(Image() + ".config.json");
  std::string text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_NE(text.find("\"/usr/bin/tool\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"diff_ids\""), std::string::npos) << text;
}

}  // namespace
}  // namespace lode::testing
