// containerd's snapshotter semantics on a root directory, as containerd's
// own overlayfs snapshotter has them: each snapshot is a directory
// (root/snapshots/ID/fs, and ID/work for active ones); an active snapshot
// mounts as an overlay whose upper directory is its own and whose lower
// directories are its committed parents', a view as the same read-only;
// containerd applies layers into active snapshots and commits them. With
// RemoteImages, chains a lode image holds become remote snapshots
// (snapshotter/remote.h).
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "snapshotter/filter.h"
#include "snapshotter/metadata.h"
#include "snapshotter/remote.h"
#include "util/status.h"

namespace lode::snapshotter {

// One mount as containerd performs it (mount(8) type, source, options).
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

class Snapshotter {
 public:
  // Opens (creating) the snapshotter's root: its metadata and directories.
  // Without `remote`, every snapshot is a directory.
  static Result<std::unique_ptr<Snapshotter>> Open(const std::string& root,
                                                   std::unique_ptr<RemoteImages> remote = nullptr);

  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const Labels& labels);
  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const Labels& labels);
  // The mounts of an active snapshot or view.
  Result<std::vector<Mount>> Mounts(const std::string& key);
  Status Commit(const std::string& name, const std::string& key, const Labels& labels);
  Status Remove(const std::string& key);
  Result<Info> Stat(const std::string& key);
  Result<Info> Update(const Info& info, const std::vector<std::string>& paths);
  // Active snapshots are measured now; others report what commit measured.
  Result<Usage> UsageOf(const std::string& key);
  Result<std::vector<Info>> List(const FilterSet& filters);
  // Deletes directories no snapshot owns (left by a crash or a Remove).
  Status Cleanup();

 private:
  Snapshotter(std::string root, std::unique_ptr<Metadata> metadata, bool overlay_index_off,
              std::unique_ptr<RemoteImages> remote)
      : root_(std::move(root)),
        metadata_(std::move(metadata)),
        index_off_(overlay_index_off),
        remote_(std::move(remote)) {}
  Result<std::vector<Mount>> Create(Kind kind, const std::string& key, const std::string& parent,
                                    const Labels& labels);
  // containerd unpacking a layer a lode image holds: a committed
  // placeholder and AlreadyExists; nullopt when no lode image holds it.
  std::optional<Status> CreateRemote(const std::string& key, const std::string& parent,
                                     const Labels& labels);
  // The backing of a snapshot over `parent` when that is a lode image.
  Result<std::optional<ChainMatch>> LodeParent(const std::string& parent);
  Status CreateDirectories(Kind kind, const Record& record);
  Result<std::vector<Mount>> MountsOf(const Record& record);
  // Where a committed snapshot's files are for an overlay: its directory,
  // or a lode image (or a committed container over one) mounted read-only
  // under root/lode/ID.
  Result<std::string> LowerDir(const Record& record);
  std::string Dir(int64_t id) const;

  std::string root_;
  std::unique_ptr<Metadata> metadata_;
  bool index_off_;
  std::unique_ptr<RemoteImages> remote_;
  // Cleanup must not take the directory of a snapshot being created.
  std::shared_mutex cleanup_mu_;
};

// The value containerd's filters see at `path` of a snapshot: name, parent,
// kind, labels.KEY.
std::optional<std::string> FieldOf(const Info& info, const std::vector<std::string>& path);

// Bytes and inodes under `dir`, counting hard-linked files once.
Result<Usage> DiskUsage(const std::string& dir);

}  // namespace lode::snapshotter
