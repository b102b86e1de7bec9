#include "snapshotter/service.h"

#include <sys/stat.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"

namespace lode::snapshotter {
namespace {

namespace api = containerd::services::snapshots::v1;
using grpc::ServerContext;

Labels LabelsOf(const google::protobuf::Map<std::string, std::string>& map) {
  return Labels(map.begin(), map.end());
}

template <typename Repeated>
void PutMounts(const std::vector<Mount>& mounts, Repeated* out) {
  for (const Mount& mount : mounts) {
    containerd::types::Mount* m = out->Add();
    m->set_type(mount.type);
    m->set_source(mount.source);
    for (const std::string& option : mount.options) m->add_options(option);
  }
}

void SetTime(int64_t ns, google::protobuf::Timestamp* out) {
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void PutInfo(const Info& info, api::Info* out) {
  out->set_name(info.name);
  out->set_parent(info.parent);
  out->set_kind(static_cast<api::Kind>(static_cast<int>(info.kind)));
  SetTime(info.created_ns, out->mutable_created_at());
  SetTime(info.updated_ns, out->mutable_updated_at());
  for (const auto& [key, value] : info.labels) (*out->mutable_labels())[key] = value;
}

class Service final : public api::Snapshots::Service {
 public:
  explicit Service(Snapshotter& snapshotter) : snapshotter_(snapshotter) {}

  grpc::Status Prepare(ServerContext*, const api::PrepareSnapshotRequest* request,
                       api::PrepareSnapshotResponse* response) override {
    Result<std::vector<Mount>> mounts =
        snapshotter_.Prepare(request->key(), request->parent(), LabelsOf(request->labels()));
    if (!mounts.ok()) return ToGrpcStatus(mounts.status());
    PutMounts(*mounts, response->mutable_mounts());
    return grpc::Status::OK;
  }

  grpc::Status View(ServerContext*, const api::ViewSnapshotRequest* request,
                    api::ViewSnapshotResponse* response) override {
    Result<std::vector<Mount>> mounts =
        snapshotter_.View(request->key(), request->parent(), LabelsOf(request->labels()));
    if (!mounts.ok()) return ToGrpcStatus(mounts.status());
    PutMounts(*mounts, response->mutable_mounts());
    return grpc::Status::OK;
  }

  grpc::Status Mounts(ServerContext*, const api::MountsRequest* request,
                      api::MountsResponse* response) override {
    Result<std::vector<Mount>> mounts = snapshotter_.Mounts(request->key());
    if (!mounts.ok()) return ToGrpcStatus(mounts.status());
    PutMounts(*mounts, response->mutable_mounts());
    return grpc::Status::OK;
  }

  grpc::Status Commit(ServerContext*, const api::CommitSnapshotRequest* request,
                      google::protobuf::Empty*) override {
    return ToGrpcStatus(
        snapshotter_.Commit(request->name(), request->key(), LabelsOf(request->labels())));
  }

  grpc::Status Remove(ServerContext*, const api::RemoveSnapshotRequest* request,
                      google::protobuf::Empty*) override {
    return ToGrpcStatus(snapshotter_.Remove(request->key()));
  }

  grpc::Status Stat(ServerContext*, const api::StatSnapshotRequest* request,
                    api::StatSnapshotResponse* response) override {
    Result<Info> info = snapshotter_.Stat(request->key());
    if (!info.ok()) return ToGrpcStatus(info.status());
    PutInfo(*info, response->mutable_info());
    return grpc::Status::OK;
  }

  grpc::Status Update(ServerContext*, const api::UpdateSnapshotRequest* request,
                      api::UpdateSnapshotResponse* response) override {
    Info info;
    info.name = request->info().name();
    info.labels = LabelsOf(request->info().labels());
    std::vector<std::string> paths(request->update_mask().paths().begin(),
                                   request->update_mask().paths().end());
    Result<Info> updated = snapshotter_.Update(info, paths);
    if (!updated.ok()) return ToGrpcStatus(updated.status());
    PutInfo(*updated, response->mutable_info());
    return grpc::Status::OK;
  }

  grpc::Status List(ServerContext*, const api::ListSnapshotsRequest* request,
                    grpc::ServerWriter<api::ListSnapshotsResponse>* writer) override {
    Result<FilterSet> filters = FilterSet::Parse(
        std::vector<std::string>(request->filters().begin(), request->filters().end()));
    if (!filters.ok()) return ToGrpcStatus(filters.status());
    Result<std::vector<Info>> infos = snapshotter_.List(*filters);
    if (!infos.ok()) return ToGrpcStatus(infos.status());
    // Batches keep each message far below gRPC's 4 MiB default.
    constexpr size_t kBatch = 100;
    for (size_t i = 0; i < infos->size(); i += kBatch) {
      api::ListSnapshotsResponse batch;
      for (size_t j = i; j < std::min(i + kBatch, infos->size()); ++j) {
        PutInfo((*infos)[j], batch.add_info());
      }
      if (!writer->Write(batch)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status Usage(ServerContext*, const api::UsageRequest* request,
                     api::UsageResponse* response) override {
    Result<lode::snapshotter::Usage> usage = snapshotter_.UsageOf(request->key());
    if (!usage.ok()) return ToGrpcStatus(usage.status());
    response->set_size(usage->size);
    response->set_inodes(usage->inodes);
    return grpc::Status::OK;
  }

  grpc::Status Cleanup(ServerContext*, const api::CleanupRequest*,
                       google::protobuf::Empty*) override {
    return ToGrpcStatus(snapshotter_.Cleanup());
  }

 private:
  Snapshotter& snapshotter_;
};

}  // namespace

struct SnapshotsServer::Parts {
  std::string socket_path;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
};

grpc::Status ToGrpcStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, status.message()};
    case StatusCode::kAlreadyExists:
      return {grpc::StatusCode::ALREADY_EXISTS, status.message()};
    case StatusCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, status.message()};
    case StatusCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, status.message()};
    case StatusCode::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, status.message()};
    case StatusCode::kRejected:
      return {grpc::StatusCode::PERMISSION_DENIED, status.message()};
    case StatusCode::kCorruption:
      return {grpc::StatusCode::DATA_LOSS, status.message()};
    case StatusCode::kIOError:
      return {grpc::StatusCode::INTERNAL, status.message()};
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

SnapshotsServer::SnapshotsServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Result<std::unique_ptr<SnapshotsServer>> SnapshotsServer::Start(Snapshotter& snapshotter,
                                                                const std::string& socket_path) {
  ::unlink(socket_path.c_str());
  auto parts = std::make_unique<Parts>();
  parts->socket_path = socket_path;
  parts->service = std::make_unique<Service>(snapshotter);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(parts->service.get());
  parts->server = builder.BuildAndStart();
  if (!parts->server) return Status::IOError("cannot serve gRPC on " + socket_path);
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    return Status::FromErrno(errno, "chmod " + socket_path);
  }
  return std::unique_ptr<SnapshotsServer>(new SnapshotsServer(std::move(parts)));
}

SnapshotsServer::~SnapshotsServer() {
  parts_->server->Shutdown();
  parts_->server->Wait();
  ::unlink(parts_->socket_path.c_str());
}

}  // namespace lode::snapshotter
