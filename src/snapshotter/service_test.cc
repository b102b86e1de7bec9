// The snapshots API's contract through a real gRPC client on a Unix socket,
// and the mounts it answers mounted for real (tests run as root).
#include "snapshotter/service.h"

#include <gtest/gtest.h>

#include <fstream>

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::snapshotter {
namespace {

namespace api = containerd::services::snapshots::v1;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snapshotter_ = *Snapshotter::Open(dir_ / "root");
    server_ = *SnapshotsServer::Start(*snapshotter_, dir_ / "s.sock");
    client_ = api::Snapshots::NewStub(
        grpc::CreateChannel("unix:" + (dir_ / "s.sock"), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    for (auto it = mounted_.rbegin(); it != mounted_.rend(); ++it) {
      testing::RunCommand("umount " + *it);
    }
  }

  grpc::StatusCode Prepare(const std::string& key, const std::string& parent,
                           std::vector<containerd::types::Mount>* mounts = nullptr,
                           const std::map<std::string, std::string>& labels = {}) {
    api::PrepareSnapshotRequest request;
    request.set_snapshotter("lode");
    request.set_key(key);
    request.set_parent(parent);
    for (const auto& [k, v] : labels) (*request.mutable_labels())[k] = v;
    api::PrepareSnapshotResponse response;
    grpc::ClientContext context;
    grpc::StatusCode code = client_->Prepare(&context, request, &response).error_code();
    if (mounts) mounts->assign(response.mounts().begin(), response.mounts().end());
    return code;
  }
  grpc::StatusCode View(const std::string& key, const std::string& parent,
                        std::vector<containerd::types::Mount>* mounts = nullptr) {
    api::ViewSnapshotRequest request;
    request.set_key(key);
    request.set_parent(parent);
    api::ViewSnapshotResponse response;
    grpc::ClientContext context;
    grpc::StatusCode code = client_->View(&context, request, &response).error_code();
    if (mounts) mounts->assign(response.mounts().begin(), response.mounts().end());
    return code;
  }
  grpc::StatusCode Commit(const std::string& name, const std::string& key,
                          const std::map<std::string, std::string>& labels = {}) {
    api::CommitSnapshotRequest request;
    request.set_name(name);
    request.set_key(key);
    for (const auto& [k, v] : labels) (*request.mutable_labels())[k] = v;
    google::protobuf::Empty empty;
    grpc::ClientContext context;
    return client_->Commit(&context, request, &empty).error_code();
  }
  grpc::StatusCode Remove(const std::string& key) {
    api::RemoveSnapshotRequest request;
    request.set_key(key);
    google::protobuf::Empty empty;
    grpc::ClientContext context;
    return client_->Remove(&context, request, &empty).error_code();
  }
  grpc::StatusCode Stat(const std::string& key, api::Info* info = nullptr) {
    api::StatSnapshotRequest request;
    request.set_key(key);
    api::StatSnapshotResponse response;
    grpc::ClientContext context;
    grpc::StatusCode code = client_->Stat(&context, request, &response).error_code();
    if (info) *info = response.info();
    return code;
  }
  std::vector<std::string> List(const std::vector<std::string>& filters,
                                grpc::StatusCode* code = nullptr) {
    api::ListSnapshotsRequest request;
    for (const std::string& f : filters) request.add_filters(f);
    grpc::ClientContext context;
    auto reader = client_->List(&context, request);
    api::ListSnapshotsResponse batch;
    std::vector<std::string> names;
    while (reader->Read(&batch)) {
      for (const api::Info& info : batch.info()) names.push_back(info.name());
    }
    grpc::StatusCode status = reader->Finish().error_code();
    if (code) *code = status;
    return names;
  }
  // Mounts what the snapshotter answered on a new directory, as containerd would.
  std::string MountAt(const std::vector<containerd::types::Mount>& mounts,
                      const std::string& name) {
    EXPECT_EQ(mounts.size(), 1u);
    std::string target = dir_ / name;
    testing::RunCommand("mkdir -p " + target);
    std::string options;
    for (const std::string& o : mounts[0].options()) options += (options.empty() ? "" : ",") + o;
    std::string type = mounts[0].type() == "bind" ? "none" : mounts[0].type();
    std::string command =
        "mount -t " + type + " -o " + options + " " + mounts[0].source() + " " + target;
    if (mounts[0].type() == "bind") {
      // mount(8) needs bind and ro in two steps for a read-only bind
      command = "mount --rbind " + mounts[0].source() + " " + target;
      bool ro = std::find(mounts[0].options().begin(), mounts[0].options().end(), "ro") !=
                mounts[0].options().end();
      if (ro) command += " && mount -o remount,bind,ro " + target;
    }
    testing::CommandResult r = testing::RunCommand(command);
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.output;
    mounted_.push_back(target);
    return target;
  }
  void Unmount(const std::string& target) {
    EXPECT_EQ(testing::RunCommand("umount " + target).exit_code, 0);
    mounted_.erase(std::find(mounted_.begin(), mounted_.end(), target));
  }

  testing::ScratchDir dir_{"snapshotter"};
  std::unique_ptr<Snapshotter> snapshotter_;
  std::unique_ptr<SnapshotsServer> server_;
  std::unique_ptr<api::Snapshots::Stub> client_;
  std::vector<std::string> mounted_;
};

TEST_F(ServiceTest, LayersStackAsOverlaysAndViewsAreReadOnly) {
  std::vector<containerd::types::Mount> mounts;
  ASSERT_EQ(Prepare("extract-1", "", &mounts), grpc::StatusCode::OK);
  ASSERT_EQ(mounts[0].type(), "bind");
  std::string layer1 = MountAt(mounts, "m1");
  testing::WriteAll(layer1 + "/base", "one");
  testing::WriteAll(layer1 + "/gone", "x");
  Unmount(layer1);
  ASSERT_EQ(Commit("layer1", "extract-1"), grpc::StatusCode::OK);

  ASSERT_EQ(Prepare("extract-2", "layer1", &mounts), grpc::StatusCode::OK);
  ASSERT_EQ(mounts[0].type(), "overlay");
  std::string layer2 = MountAt(mounts, "m2");
  EXPECT_EQ(testing::ReadAll(layer2 + "/base"), "one");
  testing::WriteAll(layer2 + "/top", "two");
  ASSERT_EQ(testing::RunCommand("rm " + layer2 + "/gone").exit_code, 0);
  Unmount(layer2);
  ASSERT_EQ(Commit("layer2", "extract-2"), grpc::StatusCode::OK);

  ASSERT_EQ(View("view", "layer2", &mounts), grpc::StatusCode::OK);
  std::string view = MountAt(mounts, "v");
  EXPECT_EQ(testing::ReadAll(view + "/base"), "one");
  EXPECT_EQ(testing::ReadAll(view + "/top"), "two");
  EXPECT_FALSE(std::ifstream(view + "/gone").good());
  EXPECT_NE(testing::RunCommand("touch " + view + "/nope").exit_code, 0);

  ASSERT_EQ(Prepare("container", "layer2", &mounts), grpc::StatusCode::OK);
  std::string rootfs = MountAt(mounts, "c");
  testing::WriteAll(rootfs + "/written", "by the container");
  EXPECT_EQ(testing::ReadAll(rootfs + "/top"), "two");
  // A view of one committed parent is that parent's directory, read-only.
  ASSERT_EQ(View("view1", "layer1", &mounts), grpc::StatusCode::OK);
  EXPECT_EQ(mounts[0].type(), "bind");
}

TEST_F(ServiceTest, ErrorsCarryContainerdsCodes) {
  ASSERT_EQ(Prepare("a", ""), grpc::StatusCode::OK);
  EXPECT_EQ(Prepare("a", ""), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Prepare("b", "missing"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Prepare("b", "a"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare("", ""), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare("big", "", nullptr, {{"k", std::string(5000, 'v')}}),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(View("v", ""), grpc::StatusCode::OK);
  EXPECT_EQ(Commit("V", "v"), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_EQ(Commit("A", "a"), grpc::StatusCode::OK);
  EXPECT_EQ(Commit("A", "a"), grpc::StatusCode::NOT_FOUND);
  ASSERT_EQ(Prepare("c", "A"), grpc::StatusCode::OK);
  EXPECT_EQ(Commit("A", "c"), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Remove("A"), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Remove("nope"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat("nope"), grpc::StatusCode::NOT_FOUND);

  api::MountsRequest request;
  request.set_key("A");
  api::MountsResponse response;
  grpc::ClientContext context;
  EXPECT_EQ(client_->Mounts(&context, request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  grpc::StatusCode code;
  List({"name=="}, &code);
  EXPECT_EQ(code, grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, StatUpdateListAndUsage) {
  ASSERT_EQ(Prepare("a", "", nullptr, {{"containerd.io/snapshot.ref", "sha256:1"}}),
            grpc::StatusCode::OK);
  std::string dir = dir_ / "root/snapshots";
  testing::WriteAll(dir + "/1/fs/file", std::string(10000, 'x'));
  ASSERT_EQ(Commit("A", "a", {{"containerd.io/snapshot.ref", "sha256:1"}}), grpc::StatusCode::OK);
  ASSERT_EQ(Prepare("b", "A"), grpc::StatusCode::OK);

  api::Info info;
  ASSERT_EQ(Stat("b", &info), grpc::StatusCode::OK);
  EXPECT_EQ(info.kind(), api::ACTIVE);
  EXPECT_EQ(info.parent(), "A");
  EXPECT_GT(info.created_at().seconds(), 1700000000);

  api::UpdateSnapshotRequest update;
  update.mutable_info()->set_name("b");
  (*update.mutable_info()->mutable_labels())["x"] = "1";
  update.mutable_update_mask()->add_paths("labels.x");
  api::UpdateSnapshotResponse updated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(client_->Update(&context, update, &updated).ok());
  }
  EXPECT_EQ(updated.info().labels().at("x"), "1");
  EXPECT_EQ(updated.info().parent(), "A");
  update.mutable_update_mask()->set_paths(0, "kind");
  {
    grpc::ClientContext context;
    EXPECT_EQ(client_->Update(&context, update, &updated).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  EXPECT_EQ(List({}), (std::vector<std::string>{"A", "b"}));
  EXPECT_EQ(List({"kind==committed"}), (std::vector<std::string>{"A"}));
  EXPECT_EQ(List({"labels.x==1", "name==A"}), (std::vector<std::string>{"A", "b"}));
  EXPECT_EQ(List({R"(labels."containerd.io/snapshot.ref"==sha256:1,parent=="")"}),
            (std::vector<std::string>{"A"}));

  api::UsageRequest usage_request;
  usage_request.set_key("A");
  api::UsageResponse usage;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(client_->Usage(&context, usage_request, &usage).ok());
  }
  EXPECT_GE(usage.size(), 10000);
  EXPECT_EQ(usage.inodes(), 2);  // fs and its file
  usage_request.set_key("b");
  testing::WriteAll(dir + "/2/fs/new", std::string(20000, 'y'));
  {
    grpc::ClientContext context;
    ASSERT_TRUE(client_->Usage(&context, usage_request, &usage).ok());
  }
  EXPECT_GE(usage.size(), 20000);  // an active snapshot is measured when asked
}

TEST_F(ServiceTest, RemoveAndCleanupLeaveNoDirectoryBehind) {
  ASSERT_EQ(Prepare("a", ""), grpc::StatusCode::OK);
  ASSERT_EQ(Prepare("b", ""), grpc::StatusCode::OK);
  std::string dir = dir_ / "root/snapshots";
  ASSERT_EQ(Remove("a"), grpc::StatusCode::OK);
  EXPECT_FALSE(std::ifstream(dir + "/1/fs").good());
  testing::RunCommand("mkdir -p " + dir + "/77/fs");  // a crash's leftover
  google::protobuf::Empty empty;
  api::CleanupRequest request;
  grpc::ClientContext context;
  ASSERT_TRUE(client_->Cleanup(&context, request, &empty).ok());
  EXPECT_EQ(testing::RunCommand("ls " + dir).output, "2\n");
}

TEST_F(ServiceTest, SnapshotsSurviveARestart) {
  ASSERT_EQ(Prepare("a", ""), grpc::StatusCode::OK);
  ASSERT_EQ(Commit("A", "a", {{"l", "v"}}), grpc::StatusCode::OK);
  ASSERT_EQ(Prepare("b", "A"), grpc::StatusCode::OK);
  server_.reset();
  snapshotter_.reset();
  SetUp();
  api::Info info;
  ASSERT_EQ(Stat("A", &info), grpc::StatusCode::OK);
  EXPECT_EQ(info.labels().at("l"), "v");
  ASSERT_EQ(Stat("b", &info), grpc::StatusCode::OK);
  EXPECT_EQ(info.parent(), "A");
  EXPECT_EQ(Prepare("b", "A"), grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace lode::snapshotter
