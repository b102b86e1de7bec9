#include "snapshotter/snapshotter.h"

#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <utility>

namespace lode::snapshotter {
namespace fs = std::filesystem;

namespace {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return Status::FromErrno(errno, "create " + path);
  return Status::Ok();
}

std::string Joined(const std::vector<std::string>& parts, char separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Snapshotter>> Snapshotter::Open(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root + "/snapshots", ec);
  if (ec) return Status::IOError("create " + root + "/snapshots: " + ec.message());
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Metadata> metadata, Metadata::Open(root + "/metadata.db"));
  // As containerd: overlay's inode index would tie upper directories to
  // their lower ones' file handles; off where the kernel lets us say so.
  bool index_off = fs::exists("/sys/module/overlay/parameters/index");
  return std::unique_ptr<Snapshotter>(new Snapshotter(root, std::move(metadata), index_off));
}

std::string Snapshotter::Dir(int64_t id) const {
  return root_ + "/snapshots/" + std::to_string(id);
}

Result<std::vector<Mount>> Snapshotter::Prepare(const std::string& key, const std::string& parent,
                                                const Labels& labels) {
  return Create(Kind::kActive, key, parent, labels);
}

Result<std::vector<Mount>> Snapshotter::View(const std::string& key, const std::string& parent,
                                             const Labels& labels) {
  return Create(Kind::kView, key, parent, labels);
}

Result<std::vector<Mount>> Snapshotter::Create(Kind kind, const std::string& key,
                                               const std::string& parent, const Labels& labels) {
  std::shared_lock lock(cleanup_mu_);
  Record record;
  LODE_RETURN_IF_ERROR(metadata_->Create(
      kind, key, parent, labels,
      [&](const Record& created) -> Status {
        std::string dir = Dir(created.id);
        LODE_RETURN_IF_ERROR(MakeDir(dir));
        Status made = MakeDir(dir + "/fs");
        if (made.ok() && kind == Kind::kActive) made = MakeDir(dir + "/work");
        if (!made.ok()) {
          std::error_code ec;
          fs::remove_all(dir, ec);
        }
        return made;
      },
      &record));
  return MountsOf(record);
}

std::vector<Mount> Snapshotter::MountsOf(const Record& record) const {
  bool active = record.info.kind == Kind::kActive;
  if (record.parent_ids.empty()) {
    return {{"bind", Dir(record.id) + "/fs", {active ? "rw" : "ro", "rbind"}}};
  }
  if (!active && record.parent_ids.size() == 1) {
    return {{"bind", Dir(record.parent_ids.front()) + "/fs", {"ro", "rbind"}}};
  }
  std::vector<std::string> options;
  if (index_off_) options.push_back("index=off");
  if (active) {
    options.push_back("workdir=" + Dir(record.id) + "/work");
    options.push_back("upperdir=" + Dir(record.id) + "/fs");
  }
  std::vector<std::string> lower;
  for (int64_t id : record.parent_ids) lower.push_back(Dir(id) + "/fs");
  options.push_back("lowerdir=" + Joined(lower, ':'));
  return {{"overlay", "overlay", options}};
}

Result<std::vector<Mount>> Snapshotter::Mounts(const std::string& key) {
  LODE_ASSIGN_OR_RETURN(Record record, metadata_->Get(key));
  if (record.info.kind == Kind::kCommitted) {
    return Status::FailedPrecondition("snapshot " + key + " is committed: it has no mounts");
  }
  return MountsOf(record);
}

Status Snapshotter::Commit(const std::string& name, const std::string& key, const Labels& labels) {
  LODE_ASSIGN_OR_RETURN(Record record, metadata_->Get(key));
  if (record.info.kind != Kind::kActive) {
    return Status::FailedPrecondition("snapshot " + key + " is not active");
  }
  LODE_ASSIGN_OR_RETURN(Usage usage, DiskUsage(Dir(record.id) + "/fs"));
  return metadata_->Commit(key, name, labels, usage);
}

Status Snapshotter::Remove(const std::string& key) {
  LODE_ASSIGN_OR_RETURN(Record removed, metadata_->Remove(key));
  // The metadata no longer names the directory: a crash before it is gone
  // leaves it to Cleanup.
  std::error_code ec;
  fs::remove_all(Dir(removed.id), ec);
  return Status::Ok();
}

Result<Info> Snapshotter::Stat(const std::string& key) {
  LODE_ASSIGN_OR_RETURN(Record record, metadata_->Get(key));
  return record.info;
}

Result<Info> Snapshotter::Update(const Info& info, const std::vector<std::string>& paths) {
  return metadata_->Update(info, paths);
}

Result<Usage> Snapshotter::UsageOf(const std::string& key) {
  LODE_ASSIGN_OR_RETURN(Record record, metadata_->Get(key));
  if (record.info.kind != Kind::kActive) return record.usage;
  return DiskUsage(Dir(record.id) + "/fs");
}

Result<std::vector<Info>> Snapshotter::List(const FilterSet& filters) {
  LODE_ASSIGN_OR_RETURN(std::vector<Info> all, metadata_->List());
  std::vector<Info> matching;
  for (Info& info : all) {
    if (filters.Matches(
            [&](const std::vector<std::string>& path) { return FieldOf(info, path); })) {
      matching.push_back(std::move(info));
    }
  }
  return matching;
}

Status Snapshotter::Cleanup() {
  std::unique_lock lock(cleanup_mu_);
  LODE_ASSIGN_OR_RETURN(std::set<int64_t> ids, metadata_->Ids());
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root_ + "/snapshots", ec)) {
    std::string name = entry.path().filename();
    bool owned = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos &&
                 ids.count(std::stoll(name)) > 0;
    if (owned) continue;
    std::error_code remove_ec;
    fs::remove_all(entry.path(), remove_ec);
    if (remove_ec)
      return Status::IOError("remove " + entry.path().string() + ": " + remove_ec.message());
  }
  if (ec) return Status::IOError("list " + root_ + "/snapshots: " + ec.message());
  return Status::Ok();
}

std::optional<std::string> FieldOf(const Info& info, const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "name") return info.name;
  if (path[0] == "parent") return info.parent;
  if (path[0] == "kind") return KindName(info.kind);
  if (path[0] == "labels" && path.size() > 1) {
    std::vector<std::string> rest(path.begin() + 1, path.end());
    auto it = info.labels.find(Joined(rest, '.'));
    if (it != info.labels.end()) return it->second;
  }
  return std::nullopt;
}

Result<Usage> DiskUsage(const std::string& dir) {
  Usage usage;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto count = [&](const fs::path& path) -> Status {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path.string());
    if (seen.insert({st.st_dev, st.st_ino}).second) {
      usage.inodes++;
      usage.size += static_cast<int64_t>(st.st_blocks) * 512;
    }
    return Status::Ok();
  };
  LODE_RETURN_IF_ERROR(count(dir));
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    LODE_RETURN_IF_ERROR(count(it->path()));
  }
  if (ec) return Status::IOError("walk " + dir + ": " + ec.message());
  return usage;
}

}  // namespace lode::snapshotter
