// lode's snapshotter under a real containerd (Debian's 1.6, `ctr`), with
// images from a real registry: an image tenant acme pushed to lode pulls
// without a layer download and runs from the agent; images lode does not
// hold go through overlay snapshots, as containerd's own overlayfs
// snapshotter does them.
#include "testing/containerd.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "catalog/chains.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "testing/agent_process.h"
#include "testing/debian_image.h"
#include "testing/files.h"
#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/registry_servers.h"
#include "testing/scratch_dir.h"

namespace lode {
namespace {

// The manifest of an OCI layout's first image, or (`config`) its config.
nlohmann::json LayoutJson(const std::string& layout, bool config) {
  auto blob = [&](const std::string& digest) {
    return nlohmann::json::parse(testing::ReadAll(layout + "/blobs/sha256/" + digest.substr(7)));
  };
  nlohmann::json index = nlohmann::json::parse(testing::ReadAll(layout + "/index.json"));
  nlohmann::json manifest = blob(index["manifests"][0]["digest"]);
  return config ? blob(manifest["config"]["digest"]) : manifest;
}

std::vector<std::string> DiffIdsOfLayout(const std::string& layout) {
  return LayoutJson(layout, true)["rootfs"]["diff_ids"].get<std::vector<std::string>>();
}

std::vector<std::string> LayerDigestsOfLayout(const std::string& layout) {
  nlohmann::json manifest = LayoutJson(layout, false);
  std::vector<std::string> digests;
  for (const auto& layer : manifest["layers"]) digests.push_back(layer["digest"]);
  return digests;
}

using testing::CommandResult;

class ContainerdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir("lode-containerd");
    std::string rootfs = testing::CachedDebianRootfs();
    if (rootfs.empty()) return;
    testing::ImageSpec lode_image = testing::BuildDebianImage(rootfs);
    testing::WriteOciLayout(*dir_ / "deb", lode_image, testing::TestCompression::kGzip);
    // The same application on a base layer of its own: no chain in common.
    testing::ImageSpec other = lode_image;
    other.layers[0] = testing::LayerBuilder().CopyTar(rootfs).File("etc/other", "other\n").Finish();
    testing::WriteOciLayout(*dir_ / "other", other, testing::TestCompression::kGzip);
    registry_ = new testing::RegistryServers(*dir_ / "fixture");
    if (!registry_->ok() ||
        !registry_->Push("oci:" + *dir_ / "other" + ":latest", "other/deb:v1") ||
        !registry_->Push("oci:" + *dir_ / "deb" + ":latest", "lode/deb:v1")) {
      return;
    }
    std::string env = "LODE_KEYS=" + *dir_ / "keys" + " LODE_STORE=dir://" + *dir_ / "store" + " ";
    if (testing::RunCommand(env + testing::LodeBinary() + " key create acme").exit_code != 0 ||
        testing::RunCommand(env + testing::LodeBinary() + " push " + *dir_ / "deb" +
                            " --tenant acme")
                .exit_code != 0) {
      return;
    }
    testing::RunCommand("mkdir -p " + *dir_ / "agent");
    agent_ = new testing::AgentProcess(*dir_ / "agent", env);
    if (!agent_->Start()) return;
    std::string flags = "--tenant acme --store dir://" + *dir_ / "store" + " --keys " +
                        *dir_ / "keys" + " --agent-socket " + agent_->socket();
    snapshotter_ = new testing::SnapshotterProcess(*dir_ / "snapshotter", flags);
    // Tests that call the API themselves use a snapshotter of their own:
    // containerd's garbage collector removes, from the snapshotter it
    // proxies, every snapshot its metadata does not reference.
    direct_ = new testing::SnapshotterProcess(*dir_ / "direct", flags);
    containerd_ = new testing::Containerd(*dir_ / "containerd", snapshotter_->socket());
    ready_ = snapshotter_->Start() && direct_->Start() && containerd_->Start();
  }
  static void TearDownTestSuite() {
    delete containerd_;
    delete snapshotter_;
    delete direct_;
    // Lower mounts the snapshotter keeps (it would keep them for running
    // containers) go with the suite.
    if (dir_) {
      testing::RunCommand(
          "awk -v root=" + dir_->path() +
          " 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l");
    }
    delete agent_;
    delete registry_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << (snapshotter_ ? snapshotter_->log() : "")
                        << (containerd_ ? containerd_->log() : "")
                        << (registry_ ? registry_->error() : "no Debian rootfs");
  }

  static nlohmann::json AgentStats() {
    CommandResult r =
        testing::RunCommand(testing::LodeBinary() + " stats --json --socket " + agent_->socket());
    return nlohmann::json::parse(r.output, nullptr, false);
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
  static std::set<std::string> SnapshotKeys() {
    std::istringstream in(Snapshots("ls").output);
    std::set<std::string> keys;
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      if (!line.empty()) keys.insert(line.substr(0, line.find_first_of(" \t")));
    }
    return keys;
  }
  static CommandResult Run(const std::string& image, const std::string& id,
                           const std::string& command = "") {
    return Ctr("run --rm --snapshotter lode " + containerd_->RuncRoot() + " " + image + " " + id +
               " " + command);
  }

  static testing::ScratchDir* dir_;
  static testing::RegistryServers* registry_;
  static testing::SnapshotterProcess* snapshotter_;
  static testing::SnapshotterProcess* direct_;
  static testing::Containerd* containerd_;
  static testing::AgentProcess* agent_;
  static bool ready_;
};
testing::AgentProcess* ContainerdTest::agent_ = nullptr;

testing::ScratchDir* ContainerdTest::dir_ = nullptr;
testing::RegistryServers* ContainerdTest::registry_ = nullptr;
testing::SnapshotterProcess* ContainerdTest::snapshotter_ = nullptr;
testing::SnapshotterProcess* ContainerdTest::direct_ = nullptr;
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

// mount(8) with the loop option; retried, since finding a free loop device
// races with other processes setting one up (containerd's shims here).
CommandResult MountCommand(const std::string& command) {
  CommandResult r;
  for (int attempt = 0; attempt < 5; ++attempt) {
    r = testing::RunCommand(command + " 2>&1");
    if (r.exit_code == 0 || r.output.find("failed to setup loop device") == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

// Prepares `key` over `parent`, mounts what the snapshotter answers, runs
// `command` in it (sh -c, on the host) and returns its output.
std::string MountPrepared(containerd::services::snapshots::v1::Snapshots::Stub& client,
                          const std::string& key, const std::string& parent,
                          const std::map<std::string, std::string>& labels,
                          const std::string& command) {
  containerd::services::snapshots::v1::PrepareSnapshotRequest prepare;
  prepare.set_key(key);
  prepare.set_parent(parent);
  for (const auto& [k, v] : labels) (*prepare.mutable_labels())[k] = v;
  containerd::services::snapshots::v1::PrepareSnapshotResponse prepared;
  grpc::ClientContext context;
  grpc::Status status = client.Prepare(&context, prepare, &prepared);
  if (!status.ok()) return "prepare: " + status.error_message();
  testing::ScratchDir target("lode-mnt");
  const auto& m = prepared.mounts(0);
  std::string options;
  for (const std::string& o : m.options()) options += (options.empty() ? "" : ",") + o;
  CommandResult mount = MountCommand("mount -t " + m.type() + " -o " + options + " " + m.source() +
                                     " " + target.path());
  if (mount.exit_code != 0) {
    size_t upper = options.find("upperdir=");
    std::string snapshots =
        upper == std::string::npos
            ? "/"
            : options.substr(upper + 9, options.find("/fs", upper) - upper - 9) + "/..";
    return "mount: " + mount.output + options + "\n" +
           testing::RunCommand("ls -la " + snapshots + " " + snapshots + "/* 2>&1; dmesg | tail -2")
               .output;
  }
  std::string out = testing::RunCommand("cd " + target.path() + " && sh -c " +
                                        testing::ShellQuote(command) + " 2>&1")
                        .output;
  testing::RunCommand("umount " + target.path());
  return out;
}

// containerd's unpacker (what the CRI plugin and nerdctl pull with)
// prepares each layer with its chain ID as containerd.io/snapshot.ref; these
// are its calls, made over gRPC to a snapshotter containerd does not manage
// (lode images from the real store and agent). (`ctr image pull` in 1.6
// fetches every layer and unpacks without the label: lode images pulled
// that way are extracted into overlay snapshots like any other.)
TEST_F(ContainerdTest, UnpackCallsForALodeChainAreAnsweredByTheImageAndItsRootfsIsTheAttachment) {
  namespace api = containerd::services::snapshots::v1;
  auto client = api::Snapshots::NewStub(
      grpc::CreateChannel("unix:" + direct_->socket(), grpc::InsecureChannelCredentials()));
  std::vector<std::string> chain = catalog::ChainIds(DiffIdsOfLayout(*dir_ / "deb"));
  ASSERT_EQ(chain.size(), 3u);
  std::string dirs_before = testing::RunCommand("ls " + direct_->root() + "/snapshots").output;
  std::string parent;
  for (size_t i = 0; i < chain.size(); ++i) {
    api::PrepareSnapshotRequest prepare;
    prepare.set_key("lode/" + std::to_string(i) + "/extract-1 " + chain[i]);
    prepare.set_parent(parent);
    (*prepare.mutable_labels())["containerd.io/snapshot.ref"] = chain[i];
    api::PrepareSnapshotResponse prepared;
    grpc::ClientContext context;
    EXPECT_EQ(client->Prepare(&context, prepare, &prepared).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
    // How containerd's metadata then finds what the snapshotter committed.
    api::ListSnapshotsRequest list;
    list.add_filters("labels.\"containerd.io/snapshot.ref\"==" + chain[i] + ",parent==\"" + parent +
                     "\"");
    grpc::ClientContext list_context;
    auto reader = client->List(&list_context, list);
    api::ListSnapshotsResponse batch;
    std::vector<api::Info> found;
    while (reader->Read(&batch))
      found.insert(found.end(), batch.info().begin(), batch.info().end());
    ASSERT_TRUE(reader->Finish().ok());
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].kind(), api::COMMITTED);
    EXPECT_EQ(
        found[0].labels().at("containerd.io/snapshot/lode.image"),
        "acme/" + catalog::ChainTag(chain.back()) + " layers 1-" + std::to_string(i + 1) + " of 3");
    parent = found[0].name();
  }
  // No directory appeared (containerd may be removing old ones meanwhile).
  std::istringstream dirs_after(testing::RunCommand("ls " + direct_->root() + "/snapshots").output);
  for (std::string dir; std::getline(dirs_after, dir);) {
    EXPECT_NE(dirs_before.find(dir + "\n"), std::string::npos) << "layer extracted into " << dir;
  }

  // A container's rootfs: the image attached writable, mounted through a loop device.
  api::PrepareSnapshotRequest prepare;
  prepare.set_key("lode/9/rootfs");
  prepare.set_parent(parent);
  api::PrepareSnapshotResponse prepared;
  {
    grpc::ClientContext context;
    grpc::Status status = client->Prepare(&context, prepare, &prepared);
    ASSERT_TRUE(status.ok())
        << status.error_message() << "\n"
        << testing::RunCommand("ls -la " + direct_->root() + "/snapshots").output;
  }
  ASSERT_EQ(prepared.mounts_size(), 1);
  EXPECT_EQ(prepared.mounts(0).type(), "ext4");
  EXPECT_EQ(prepared.mounts(0).options(0), "loop");
  std::string rootfs = *dir_ / "rootfs";
  testing::RunCommand("mkdir -p " + rootfs);
  CommandResult mount = MountCommand("mount -o loop " + prepared.mounts(0).source() + " " + rootfs);
  ASSERT_EQ(mount.exit_code, 0) << mount.output
                                << testing::RunCommand("losetup -a; ls -l /dev/loop* 2>&1").output;
  EXPECT_NE(testing::ReadAll(rootfs + "/opt/app/main.py").find("'hello': 'lode'"),
            std::string::npos);
  testing::WriteAll(rootfs + "/root/written", "cow\n");
  EXPECT_EQ(testing::ReadAll(rootfs + "/root/written"), "cow\n");
  testing::RunCommand("umount " + rootfs);
  CommandResult ps =
      testing::RunCommand(testing::LodeBinary() + " ps --socket " + *dir_ / "agent/agent.sock");
  EXPECT_NE(ps.output.find("acme"), std::string::npos) << ps.output;  // attached, rw

  // A committed container over a lode image is the image and its overlay:
  // a second rootfs over it sees what the first one wrote.
  api::CommitSnapshotRequest commit;
  commit.set_key("lode/9/rootfs");
  commit.set_name("lode/10/committed");
  google::protobuf::Empty empty;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(client->Commit(&context, commit, &empty).ok());
  }
  api::UsageRequest usage_request;
  usage_request.set_key("lode/10/committed");
  api::UsageResponse usage;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(client->Usage(&context, usage_request, &usage).ok());
  }
  EXPECT_GT(usage.size(), 0);  // the overlay's pages: what is local
  EXPECT_LT(usage.size(), 16 << 20);
  EXPECT_EQ(MountPrepared(*client, "lode/12/second", "lode/10/committed", {}, "cat root/written"),
            "cow\n");
  // A layer applied over the lode image (an image built on it) is an
  // overlay over the image, mounted read-only by the snapshotter.
  EXPECT_EQ(MountPrepared(*client, "lode/13/extract-2 sha256:feed", parent,
                          {{"containerd.io/snapshot.ref", "sha256:feed"}},
                          "head -c 11 opt/app/main.py; test -e usr/share/doc || echo ' gone'"),
            "import json gone\n");

  // Removing detaches: nothing of acme stays attached.
  for (const char* key : {"lode/13/extract-2 sha256:feed", "lode/12/second", "lode/10/committed"}) {
    api::RemoveSnapshotRequest remove;
    remove.set_key(key);
    grpc::ClientContext context;
    EXPECT_TRUE(client->Remove(&context, remove, &empty).ok()) << key;
  }
  // What stays is the image attached read-only as the layer's lower, until
  // the image's own snapshots go (containerd removes them with the image).
  ps = testing::RunCommand(testing::LodeBinary() + " ps --socket " + *dir_ / "agent/agent.sock");
  EXPECT_EQ(testing::RunCommand("printf '%s' " + testing::ShellQuote(ps.output) +
                                " | grep acme | grep -c ' ro '")
                .output,
            "1\n")
      << ps.output;
  for (int i = 2; i >= 0; --i) {
    api::RemoveSnapshotRequest remove;
    remove.set_key("lode/" + std::to_string(i) + "/extract-1 " + chain[i]);
    grpc::ClientContext context;
    EXPECT_TRUE(client->Remove(&context, remove, &empty).ok()) << i;
  }
  ps = testing::RunCommand(testing::LodeBinary() + " ps --socket " + *dir_ / "agent/agent.sock");
  EXPECT_EQ(ps.output.find("acme"), std::string::npos) << ps.output;

  // A rootfs over only the first layers of a lode image cannot be served.
  prepare.set_key("lode/0/extract-1 " + chain[0]);
  prepare.set_parent("");
  (*prepare.mutable_labels())["containerd.io/snapshot.ref"] = chain[0];
  {
    grpc::ClientContext again;
    ASSERT_EQ(client->Prepare(&again, prepare, &prepared).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
  }
  prepare.clear_labels();
  prepare.set_key("lode/11/partial");
  prepare.set_parent("lode/0/extract-1 " + chain[0]);
  grpc::ClientContext context;
  grpc::Status partial = client->Prepare(&context, prepare, &prepared);
  EXPECT_EQ(partial.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(partial.error_message().find("layers 1-1 of lode image"), std::string::npos)
      << partial.error_message();
}

// Bytes the agent fetched from the store.
int64_t OriginBytes(const nlohmann::json& stats) {
  for (const auto& tier : stats["tiers"]) {
    if (tier["tier"] == "origin") return tier["bytes"].get<int64_t>();
  }
  return -1;
}

// With the CRI plugin's labels (each layer's digest and those above it), a
// layer of another image that only shares a lode image's lower layers is
// not taken for the lode image: it is unpacked into a directory.
TEST_F(ContainerdTest, CriLabelsTellALodeImageFromOneSharingItsLowerLayers) {
  namespace api = containerd::services::snapshots::v1;
  auto client = api::Snapshots::NewStub(
      grpc::CreateChannel("unix:" + direct_->socket(), grpc::InsecureChannelCredentials()));
  std::vector<std::string> chain = catalog::ChainIds(DiffIdsOfLayout(*dir_ / "deb"));
  std::vector<std::string> digests = LayerDigestsOfLayout(*dir_ / "deb");
  ASSERT_EQ(digests.size(), 3u);
  auto prepare_base = [&](const std::string& key, const std::string& layers) {
    api::PrepareSnapshotRequest prepare;
    prepare.set_key(key);
    (*prepare.mutable_labels())["containerd.io/snapshot.ref"] = chain[0];
    (*prepare.mutable_labels())["containerd.io/snapshot/cri.image-layers"] = layers;
    api::PrepareSnapshotResponse prepared;
    grpc::ClientContext context;
    grpc::StatusCode code = client->Prepare(&context, prepare, &prepared).error_code();
    api::RemoveSnapshotRequest remove;
    remove.set_key(key);
    google::protobuf::Empty empty;
    grpc::ClientContext remove_context;
    EXPECT_TRUE(client->Remove(&remove_context, remove, &empty).ok()) << key;
    return code;
  };
  EXPECT_EQ(
      prepare_base("cri/1/extract-1 " + chain[0], digests[0] + "," + digests[1] + "," + digests[2]),
      grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(
      prepare_base("cri/2/extract-1 " + chain[0], digests[0] + ",sha256:" + std::string(64, 'e')),
      grpc::StatusCode::OK);
}

// Registry requests in the registry's access log ("GET /v2/REPO/KIND/...").
int Requests(const std::string& log, const std::string& repo, const std::string& kind) {
  std::istringstream in(log);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"GET /v2/" + repo + "/" + kind + "/") != std::string::npos) ++n;
  }
  return n;
}

// Pulled as the CRI plugin pulls (containerd's unpacker): only the manifest
// and the config cross the network; the container reads its files from the
// agent, a small part of the image.
TEST_F(ContainerdTest, ALodeImagePullsWithoutLayerDownloadsAndRunsFromTheAgent) {
  registry_->ClearLog("plain");
  std::string image = Image("lode/deb:v1");
  CommandResult pull =
      testing::RunCommand(std::string(LODE_TEST_CONTAINERD_PULL) + " " +
                          *dir_ / "containerd/containerd.sock" + " lode lode " + image + " 2>&1");
  ASSERT_EQ(pull.exit_code, 0) << pull.output << snapshotter_->log();
  std::string log = registry_->Log("plain");
  EXPECT_EQ(Requests(log, "lode/deb", "manifests"), 1) << log;
  EXPECT_EQ(Requests(log, "lode/deb", "blobs"), 1) << log;  // the config

  CommandResult run = Run(image, "lazy-run");
  EXPECT_EQ(run.exit_code, 0) << run.output << snapshotter_->log();
  EXPECT_NE(run.output.find("{\"hello\": \"lode\", \"python\": 3}"), std::string::npos)
      << run.output;
  std::string chain_tag =
      catalog::ChainTag(catalog::ChainIds(DiffIdsOfLayout(*dir_ / "deb")).back());
  CommandResult inspect = testing::RunCommand("LODE_KEYS=" + *dir_ / "keys" + " LODE_STORE=dir://" +
                                              *dir_ / "store" + " " + testing::LodeBinary() +
                                              " inspect " + chain_tag + " --tenant acme --json");
  int64_t image_bytes =
      nlohmann::json::parse(inspect.output, nullptr, false).value("fs_size", int64_t{0});
  ASSERT_GT(image_bytes, 0) << inspect.output;
  nlohmann::json stats = AgentStats();
  int64_t fetched = OriginBytes(stats);
  EXPECT_GT(fetched, 0);
  EXPECT_LT(fetched * 10, image_bytes) << "fetched " << fetched << " of " << image_bytes;

  // A second container of the image reads what the first one fetched from
  // the agent's caches: nothing more comes from the store.
  run = Run(image, "lazy-run-2");
  EXPECT_NE(run.output.find("\"hello\": \"lode\""), std::string::npos) << run.output;
  EXPECT_EQ(OriginBytes(AgentStats()), fetched);
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

  // Under running containers: one on overlays, one on the lode image
  // (pulled through containerd's unpacker by an earlier test).
  auto start_slow = [&](const std::string& ref, const std::string& id) {
    return testing::StartCommand(
        "exec ctr --address " + *dir_ / "containerd/containerd.sock" +
        " --namespace lode run --rm --snapshotter lode " + containerd_->RuncRoot() + " " + ref +
        " " + id + " sh -c 'sleep 2; cat /opt/app/config.json' > " + *dir_ / id + ".out 2>&1");
  };
  pid_t slow = start_slow(image, "slow");
  pid_t slow_lode = start_slow(Image("lode/deb:v1"), "slow-lode");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  Restart(SIGKILL);
  int status = 0;
  ::waitpid(slow, &status, 0);
  ::waitpid(slow_lode, &status, 0);
  EXPECT_EQ(testing::ReadAll(*dir_ / "slow.out"), "{\"mode\": \"test\"}\n");
  EXPECT_EQ(testing::ReadAll(*dir_ / "slow-lode.out"), "{\"mode\": \"test\"}\n");
  // Removed after they ended, through the restarted snapshotter.
  for (int i = 0; i < 50 && Snapshots("ls").output.find("slow") != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Snapshots("ls").output.find("slow"), std::string::npos);
  Restart(SIGTERM);  // a clean stop ends with status 0
}

// The agent's handover (`lode agent --upgrade`) under a container on a lode
// image: the container reads what it never read before through the new
// agent, and its snapshot is detached through it when the container ends.
TEST_F(ContainerdTest, AnAgentUpgradeUnderARunningContainerFailsNoRead) {
  auto attachments = [] {
    std::set<std::string> ids;
    nlohmann::json list = nlohmann::json::parse(
        testing::RunCommand(testing::LodeBinary() + " ps --json " + agent_->SocketArg()).output,
        nullptr, false);
    if (list.is_array()) {
      for (const auto& a : list) ids.insert(a.value("id", ""));
    }
    return ids;
  };
  std::set<std::string> before = attachments();
  pid_t reader = testing::StartCommand(
      "exec ctr --address " + *dir_ / "containerd/containerd.sock" +
      " --namespace lode run --rm --snapshotter lode " + containerd_->RuncRoot() + " " +
      Image("lode/deb:v1") + " upgrade-reader sh -c 'sleep 1; " +
      "find /usr /var -type f -exec cat {} + > /dev/null && echo read-all' > " +
      *dir_ / "upgrade-reader.out 2>&1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(agent_->Upgrade()) << agent_->log();
  // The container's attachment, which the new agent took over.
  std::set<std::string> during = attachments(), its;
  for (const std::string& id : during) {
    if (!before.count(id)) its.insert(id);
  }
  EXPECT_EQ(its.size(), 1u) << "before the upgrade " << before.size() << ", after "
                            << during.size();
  int status = 0;
  ::waitpid(reader, &status, 0);
  EXPECT_EQ(testing::ReadAll(*dir_ / "upgrade-reader.out"), "read-all\n");
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto detached = [&] {
    std::set<std::string> now = attachments();
    for (const std::string& id : its) {
      if (now.count(id)) return false;
    }
    return true;
  };
  // containerd removes the snapshot in its garbage collection, which it
  // paces (a few percent of its time): on a busy machine that takes seconds.
  for (int i = 0; i < 300 && !detached(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(detached()) << "the container's attachment outlived it";
}

// Last in the suite: it deletes the store's chunks. A lode image whose
// chunks cannot be read fails the container with EIO; nothing hangs.
TEST_F(ContainerdTest, UnreadableChunksFailReadsWithAnIoErrorInsteadOfHanging) {
  testing::ImageSpec spec = testing::BuildDebianImage(testing::CachedDebianRootfs());
  std::string big;
  for (int64_t i = 0; big.size() < (4u << 20); ++i) big += std::to_string(i * 7919) + "\n";
  spec.layers.push_back(testing::LayerBuilder().File("big", big).Finish());
  testing::WriteOciLayout(*dir_ / "broken", spec, testing::TestCompression::kGzip);
  ASSERT_TRUE(registry_->Push("oci:" + *dir_ / "broken" + ":latest", "lode/broken:v1"))
      << registry_->error();
  std::string env = "LODE_KEYS=" + *dir_ / "keys" + " LODE_STORE=dir://" + *dir_ / "store" + " ";
  ASSERT_EQ(testing::RunCommand(env + testing::LodeBinary() + " push " + *dir_ / "broken" +
                                " --tenant acme")
                .exit_code,
            0);
  std::string image = Image("lode/broken:v1");
  CommandResult pull =
      testing::RunCommand(std::string(LODE_TEST_CONTAINERD_PULL) + " " +
                          *dir_ / "containerd/containerd.sock" + " lode lode " + image + " 2>&1");
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  ASSERT_EQ(testing::RunCommand("find " + *dir_ / "store" + " -path '*/chunks/*' -type f -delete")
                .exit_code,
            0);

  auto started = std::chrono::steady_clock::now();
  CommandResult run = Run(image, "broken", "sh -c 'cat /big > /dev/null; echo exit=$?'");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // The rootfs mount itself reads chunks the first container did not
  // (ext4 reads more when mounting read-write): either the mount or the
  // read fails, with EIO.
  std::string lower = run.output;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(lower.find("input/output error"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("exit=0"), std::string::npos) << run.output;
  EXPECT_LT(seconds, 60) << run.output;
}

}  // namespace
}  // namespace lode
