// containerd's snapshots service (containerd.services.snapshots.v1.Snapshots)
// over gRPC on a Unix socket, answering from a Snapshotter: what containerd
// calls through `[proxy_plugins.NAME] type = "snapshot"`. Errors carry the
// gRPC codes containerd maps back to its own (NotFound, AlreadyExists,
// FailedPrecondition, InvalidArgument).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "snapshotter/snapshotter.h"
#include "util/status.h"

namespace lode::snapshotter {

class SnapshotsServer {
 public:
  // Serves `snapshotter` on `socket_path` (a stale socket is replaced; the
  // new one is 0600).
  static Result<std::unique_ptr<SnapshotsServer>> Start(Snapshotter& snapshotter,
                                                        const std::string& socket_path);
  ~SnapshotsServer();  // stops serving and removes the socket

 private:
  struct Parts;
  explicit SnapshotsServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

grpc::Status ToGrpcStatus(const Status& status);

}  // namespace lode::snapshotter
