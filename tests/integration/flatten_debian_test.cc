// Test setup: a real image. mmdebstrap builds a Debian bookworm rootfs with
// python3 from the machine's apt sources (cached in the build tree); two
// upper layers delete and replace files of it and add an application.
// `lode flatten` output is checked with e2fsck, mounted, compared with
// umoci's unpack, and python3 runs inside it under chroot; pushed and
// exported, it comes back byte for byte.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "testing/debian_image.h"
#include "testing/mount.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/tree_compare.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

TEST(FlattenDebianTest, RealImageMountsMatchesUmociAndRunsPython) {
  std::string rootfs = CachedDebianRootfs();
  ASSERT_TRUE(fs::is_regular_file(rootfs)) << "building the Debian rootfs failed";
  ScratchDir dir("lode-debian");
  ImageSpec spec = BuildDebianImage(rootfs);
  ASSERT_GE(spec.layers.size(), 3u);
  WriteOciLayout(dir / "oci", spec, TestCompression::kGzip);
  std::string image = dir / "debian.ext4";
  CommandResult f =
      RunCommand(LodeBinary() + " flatten " + ShellQuote(dir / "oci") + " -o " + ShellQuote(image));
  ASSERT_EQ(f.exit_code, 0) << f.output;

  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(image));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;

  CommandResult u = RunCommand("umoci raw unpack --image " + ShellQuote(dir / "oci") + ":latest " +
                               ShellQuote(dir / "unpacked"));
  ASSERT_EQ(u.exit_code, 0) << u.output;
  LoopMount mount(image, dir / "mnt");
  ASSERT_TRUE(mount.ok()) << mount.error();
  std::vector<std::string> diffs =
      CompareTrees(dir / "mnt", dir / "unpacked", {.ignore = {"lost+found"}});
  std::string all;
  for (const std::string& d : diffs) all += d + "\n";
  EXPECT_TRUE(diffs.empty()) << all;
  EXPECT_FALSE(fs::exists(dir / "mnt/usr/share/doc"));
  EXPECT_TRUE(fs::exists(dir / "mnt/var/cache/apt/note"));

  // Push into a dir:// store and export: the same bytes come back.
  std::string env = "LODE_KEYS=" + ShellQuote(dir / "keys") +
                    " LODE_STORE=" + ShellQuote("dir://" + dir.path() + "/store") + " " +
                    LodeBinary();
  ASSERT_EQ(RunCommand(env + " key create deb").exit_code, 0);
  CommandResult push =
      RunCommand(env + " push " + ShellQuote(dir / "oci") + " --tenant deb --tag debian");
  ASSERT_EQ(push.exit_code, 0) << push.output;
  CommandResult exported =
      RunCommand(env + " export debian --tenant deb -o " + ShellQuote(dir / "exported.ext4"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_EQ(
      RunCommand("cmp " + ShellQuote(image) + " " + ShellQuote(dir / "exported.ext4")).exit_code,
      0);

  CommandResult py =
      RunCommand("chroot " + ShellQuote(dir / "mnt") + " /usr/bin/python3 -B /opt/app/main.py");
  EXPECT_EQ(py.exit_code, 0) << py.output;
  EXPECT_NE(py.output.find("\"hello\": \"lode\""), std::string::npos) << py.output;
}

}  // namespace
}  // namespace lode::testing
