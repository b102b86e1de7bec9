// Tar dialects other than pax: GNU tar's long names, link targets and
// hardlinks (././@LongLink records), flattened and checked through a mount.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "testing/layer_builder.h"
#include "testing/mount.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

TEST(FlattenFormatsTest, GnuTarLongNamesTargetsAndHardlinks) {
  ScratchDir dir("lode-gnutar");
  std::string deep = std::string(90, 'd') + "/" + std::string(90, 'e');
  std::string file = deep + "/" + std::string(200, 'f');
  std::string target = "/" + std::string(150, 't') + "/end";
  LayerBuilder b(TarFormat::kGnu);
  b.Dir(std::string(90, 'd')).Dir(deep).File(file, "long name content\n");
  b.Symlink("link", target).Hardlink("hard", file);
  std::ofstream(dir / "gnu.tar", std::ios::binary) << b.Finish();

  std::string image = dir / "gnu.ext4";
  CommandResult f = RunCommand(LodeBinary() + " flatten --layer " + ShellQuote(dir / "gnu.tar") +
                               " -o " + ShellQuote(image));
  ASSERT_EQ(f.exit_code, 0) << f.output;
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(image));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;

  LoopMount mount(image, dir / "mnt");
  ASSERT_TRUE(mount.ok()) << mount.error();
  std::ifstream in(dir / ("mnt/" + file));
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "long name content\n");
  EXPECT_EQ(fs::read_symlink(dir / "mnt/link").string(), target);
  struct stat st;
  ASSERT_EQ(::stat((dir / "mnt/hard").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
}

}  // namespace
}  // namespace lode::testing
