// lode's snapshotter under a real containerd (Debian's 1.6, `ctr`), with
// images from a real registry: images lode does not hold go through
// overlay snapshots, as containerd's own overlayfs snapshotter does them.
#include "testing/containerd.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "testing/debian_image.h"
#include "testing/files.h"
#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/registry_servers.h"
#include "testing/scratch_dir.h"

namespace lode {
namespace {

using testing::CommandResult;

class ContainerdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir("lode-containerd");
    std::string rootfs = testing::CachedDebianRootfs();
    if (rootfs.empty()) return;
    testing::WriteOciLayout(*dir_ / "deb", testing::BuildDebianImage(rootfs),
                            testing::TestCompression::kGzip);
    registry_ = new testing::RegistryServers(*dir_ / "fixture");
    if (!registry_->ok() || !registry_->Push("oci:" + *dir_ / "deb" + ":latest", "other/deb:v1"))
      return;
    snapshotter_ = new testing::SnapshotterProcess(*dir_ / "snapshotter");
    containerd_ = new testing::Containerd(*dir_ / "containerd", snapshotter_->socket());
    ready_ = snapshotter_->Start() && containerd_->Start();
  }
  static void TearDownTestSuite() {
    delete containerd_;
    delete snapshotter_;
    delete registry_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << (snapshotter_ ? snapshotter_->log() : "")
                        << (containerd_ ? containerd_->log() : "")
                        << (registry_ ? registry_->error() : "no Debian rootfs");
  }

  static std::string Image(const std::string& repo_tag) {
    return registry_->Get("PLAIN") + "/" + repo_tag;
  }
  static CommandResult Ctr(const std::string& args) { return containerd_->Ctr(args); }
  static CommandResult Snapshots(const std::string& args) {
    return Ctr("snapshots --snapshotter lode " + args);
  }
  // Pulls `image` with the lode snapshotter (once per suite).
  static void Pull(const std::string& image) {
    CommandResult pull = Ctr("image pull --plain-http --snapshotter lode " + image);
    ASSERT_EQ(pull.exit_code, 0) << pull.output << snapshotter_->log();
  }
  // Restarts the snapshotter after `signal` and waits until containerd's
  // connection to it is back: containerd redials a proxy plugin with a
  // backoff (up to 3 s in 1.6), failing calls with "unavailable" meanwhile.
  static void Restart(int signal) {
    ASSERT_EQ(snapshotter_->Stop(signal), signal == SIGKILL ? 128 + SIGKILL : 0);
    ASSERT_TRUE(snapshotter_->Start()) << snapshotter_->log();
    for (int i = 0; i < 100 && Snapshots("ls").exit_code != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(Snapshots("ls").exit_code, 0);
  }
  static CommandResult Run(const std::string& image, const std::string& id,
                           const std::string& command = "") {
    return Ctr("run --rm --snapshotter lode " + containerd_->RuncRoot() + " " + image + " " + id +
               " " + command);
  }

  static testing::ScratchDir* dir_;
  static testing::RegistryServers* registry_;
  static testing::SnapshotterProcess* snapshotter_;
  static testing::Containerd* containerd_;
  static bool ready_;
};

testing::ScratchDir* ContainerdTest::dir_ = nullptr;
testing::RegistryServers* ContainerdTest::registry_ = nullptr;
testing::SnapshotterProcess* ContainerdTest::snapshotter_ = nullptr;
testing::Containerd* ContainerdTest::containerd_ = nullptr;
bool ContainerdTest::ready_ = false;

TEST_F(ContainerdTest, AnImageLodeDoesNotHoldPullsAndRunsThroughOverlays) {
  std::string image = Image("other/deb:v1");
  Pull(image);
  CommandResult ls = Snapshots("ls");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  // Three layers, each applied into an active snapshot and committed.
  EXPECT_EQ(
      testing::RunCommand("printf '%s' " + testing::ShellQuote(ls.output) + " | grep -c Committed")
          .output,
      "3\n")
      << ls.output;
  CommandResult run = Run(image, "overlay-run");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("{\"hello\": \"lode\", \"python\": 3}"), std::string::npos)
      << run.output;
  // What the top layer deleted and made opaque is gone in the container.
  run = Run(image, "overlay-check",
            "sh -c 'ls /usr/share/doc; ls /var/cache/apt; cat /etc/hostname'");
  EXPECT_NE(run.output.find("No such file"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("note\nlode\n"), std::string::npos) << run.output;
}

TEST_F(ContainerdTest, ContainersWriteCommitAndAnotherSeesTheData) {
  std::string image = Image("other/deb:v1");
  Pull(image);
  CommandResult run = Ctr("run --snapshotter lode " + containerd_->RuncRoot() + " " + image +
                          " writer sh -c 'echo written > /root/data'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(Snapshots("commit with-data writer").exit_code, 0);
  ASSERT_EQ(Ctr("container rm writer").exit_code, 0);
  EXPECT_EQ(Snapshots("info writer").exit_code, 1);  // removed with its container

  // A second rootfs prepared from the committed snapshot sees the data.
  ASSERT_EQ(Snapshots("prepare reader with-data").exit_code, 0);
  std::string mnt = *dir_ / "reader-mnt";
  testing::RunCommand("mkdir -p " + mnt);
  CommandResult mounts = Snapshots("mounts " + mnt + " reader");
  ASSERT_EQ(mounts.exit_code, 0) << mounts.output;
  ASSERT_EQ(testing::RunCommand(mounts.output).exit_code, 0) << mounts.output;
  run = Ctr("run --rm " + containerd_->RuncRoot() + " --rootfs " + mnt +
            " reader-run /bin/cat /root/data");
  testing::RunCommand("umount " + mnt);
  EXPECT_EQ(run.output, "written\n");

  CommandResult label = Snapshots("label with-data team=storage");
  EXPECT_EQ(label.exit_code, 0) << label.output;
  CommandResult info = Snapshots("info with-data");
  EXPECT_NE(info.output.find("\"team\": \"storage\""), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("\"Kind\": \"Committed\""), std::string::npos) << info.output;
  CommandResult usage = Snapshots("usage with-data");
  EXPECT_EQ(usage.exit_code, 0) << usage.output;
  EXPECT_NE(usage.output.find("with-data"), std::string::npos) << usage.output;
  EXPECT_NE(Snapshots("rm with-data").exit_code, 0);  // reader is its child
  EXPECT_EQ(Snapshots("rm reader").exit_code, 0);
  EXPECT_EQ(Snapshots("rm with-data").exit_code, 0);
  EXPECT_NE(Snapshots("info with-data").exit_code, 0);
}

TEST_F(ContainerdTest, ASnapshotterRestartKeepsSnapshotsAndRunningContainers) {
  std::string image = Image("other/deb:v1");
  Pull(image);
  Restart(SIGKILL);
  // Between pull and run.
  CommandResult run = Run(image, "after-restart");
  EXPECT_NE(run.output.find("\"hello\": \"lode\""), std::string::npos) << run.output;

  // Under a running container.
  std::string out = *dir_ / "slow.out";
  pid_t slow = testing::StartCommand(
      "exec ctr --address " + *dir_ / "containerd/containerd.sock" +
      " --namespace lode run --rm --snapshotter lode " + containerd_->RuncRoot() + " " + image +
      " slow sh -c 'sleep 2; cat /opt/app/config.json' > " + out + " 2>&1");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  Restart(SIGKILL);
  int status = 0;
  ::waitpid(slow, &status, 0);
  EXPECT_EQ(testing::ReadAll(out), "{\"mode\": \"test\"}\n");
  EXPECT_EQ(Snapshots("ls").output.find("slow"), std::string::npos);  // removed after it ended
  Restart(SIGTERM);  // a clean stop ends with status 0
}

}  // namespace
}  // namespace lode
