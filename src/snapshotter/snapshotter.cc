#include "snapshotter/snapshotter.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "sandbox/mount.h"

namespace lode::snapshotter {
namespace fs = std::filesystem;

namespace {

using nlohmann::json;

// The label containerd's unpacker puts on a layer's extraction snapshot: the
// chain ID the layer completes.
constexpr const char* kTargetLabel = "containerd.io/snapshot.ref";
// What a lode placeholder stands for, for `ctr snapshots info`.
constexpr const char* kImageLabel = "containerd.io/snapshot/lode.image";

json BackingOf(const Record& record) {
  if (record.backing.empty()) return json::object();
  json backing = json::parse(record.backing, nullptr, false);
  return backing.is_object() ? backing : json::object();
}

std::optional<ChainMatch> PlaceholderOf(const Record& record) {
  json backing = BackingOf(record);
  if (!backing.contains("lode") || !backing["lode"].is_object()) return std::nullopt;
  const json& lode = backing["lode"];
  return ChainMatch{lode.value("tenant", ""), lode.value("image", ""), lode.value("depth", 0),
                    lode.value("layers", 0)};
}

bool IsMountpoint(const std::string& path) {
  struct stat here, above;
  return ::stat(path.c_str(), &here) == 0 && ::stat((path + "/..").c_str(), &above) == 0 &&
         here.st_dev != above.st_dev;
}

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

Result<std::unique_ptr<Snapshotter>> Snapshotter::Open(const std::string& root,
                                                       std::unique_ptr<RemoteImages> remote) {
  std::error_code ec;
  fs::create_directories(root + "/snapshots", ec);
  if (ec) return Status::IOError("create " + root + "/snapshots: " + ec.message());
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<Metadata> metadata, Metadata::Open(root + "/metadata.db"));
  // As containerd: overlay's inode index would tie upper directories to
  // their lower ones' file handles; off where the kernel lets us say so.
  bool index_off = fs::exists("/sys/module/overlay/parameters/index");
  return std::unique_ptr<Snapshotter>(
      new Snapshotter(root, std::move(metadata), index_off, std::move(remote)));
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
  if (kind == Kind::kActive) {
    if (std::optional<Status> remote = CreateRemote(key, parent, labels)) return *remote;
  }
  LODE_ASSIGN_OR_RETURN(std::optional<ChainMatch> image, LodeParent(parent));
  // A layer applied on top of a lode image is a directory over the image
  // mounted as its lower; a container's rootfs or a view is the image.
  if (image && kind == Kind::kActive && labels.count(kTargetLabel)) image.reset();
  std::shared_lock lock(cleanup_mu_);
  std::optional<Attached> attached;
  Record record;
  Status created = metadata_->Create(
      kind, key, parent, labels,
      [&](Record& created) -> Status {
        if (!image) return CreateDirectories(kind, created);
        // The rootfs is the image itself: read-only for a view, with the
        // agent's copy-on-write overlay for a container.
        LODE_ASSIGN_OR_RETURN(attached, remote_->Attach(*image, kind == Kind::kActive));
        created.backing = json{{"attachment", attached->id}, {"path", attached->path}}.dump();
        return Status::Ok();
      },
      &record);
  if (!created.ok()) {
    if (attached) (void)remote_->Detach(attached->id);
    return created;
  }
  return MountsOf(record);
}

Result<std::string> Snapshotter::LowerDir(const Record& record) {
  json backing = BackingOf(record);
  if (backing.empty()) return Dir(record.id) + "/fs";
  std::string block;
  if (backing.contains("path")) {
    block = backing.value("path", "");  // a committed container over a lode image
  } else if (backing.contains("lower")) {
    block = backing["lower"].value("path", "");
  } else {
    LODE_ASSIGN_OR_RETURN(std::optional<ChainMatch> image, LodeParent(record.info.name));
    if (!image) return Status::Corruption("snapshot " + record.info.name + " has no backing");
    LODE_ASSIGN_OR_RETURN(Attached lower, remote_->Attach(*image, false));
    backing["lower"] = {{"attachment", lower.id}, {"path", lower.path}};
    Status saved = metadata_->SetBacking(record.id, backing.dump());
    if (!saved.ok()) {
      (void)remote_->Detach(lower.id);
      return saved;
    }
    block = lower.path;
  }
  std::string target = root_ + "/lode/" + std::to_string(record.id);
  if (IsMountpoint(target)) return target;
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<sandbox::Mount> mount,
                        sandbox::Mount::Ext4(block, target, false));
  // Overlays of running containers use it: it stays across restarts.
  mount->Keep();
  return target;
}

std::optional<Status> Snapshotter::CreateRemote(const std::string& key, const std::string& parent,
                                                const Labels& labels) {
  auto target = labels.find(kTargetLabel);
  if (!remote_ || target == labels.end()) return std::nullopt;
  Result<std::vector<ChainMatch>> candidates = remote_->Find(target->second);
  if (!candidates.ok()) return candidates.status();
  std::optional<ChainMatch> match = ChooseImage(*candidates, labels);
  if (!match) return std::nullopt;
  const ChainMatch& image = *match;
  Labels placeholder_labels = labels;
  placeholder_labels[kImageLabel] = image.tenant + "/" + image.image + " layers 1-" +
                                    std::to_string(image.depth) + " of " +
                                    std::to_string(image.layers);
  json backing = {{"lode",
                   {{"tenant", image.tenant},
                    {"image", image.image},
                    {"depth", image.depth},
                    {"layers", image.layers}}}};
  Record record;
  Status created = metadata_->Create(
      Kind::kCommitted, key, parent, placeholder_labels,
      [&](Record& created) {
        created.backing = backing.dump();
        return Status::Ok();
      },
      &record);
  if (!created.ok()) return created;
  // containerd finds the placeholder by its target label and parent.
  return Status::AlreadyExists("target snapshot " + target->second + " is lode image " +
                               image.tenant + "/" + image.image);
}

Result<std::optional<ChainMatch>> Snapshotter::LodeParent(const std::string& parent) {
  if (parent.empty()) return std::optional<ChainMatch>();
  Result<Record> record = metadata_->Get(parent);
  if (!record.ok()) return std::optional<ChainMatch>();  // Create reports it
  std::optional<ChainMatch> image = PlaceholderOf(*record);
  if (!image) return image;
  if (!remote_) {
    return Status::FailedPrecondition("snapshot " + parent +
                                      " is a lode image, and this snapshotter runs without lode "
                                      "images (no --tenant)");
  }
  if (!image->full()) {
    return Status::FailedPrecondition(
        "snapshot " + parent + " is layers 1-" + std::to_string(image->depth) + " of lode image " +
        image->tenant + "/" + image->image +
        ", and lode holds no image of exactly these layers: push that image to lode too");
  }
  return image;
}

Status Snapshotter::CreateDirectories(Kind kind, const Record& record) {
  std::string dir = Dir(record.id);
  LODE_RETURN_IF_ERROR(MakeDir(dir));
  Status made = MakeDir(dir + "/fs");
  if (made.ok() && kind == Kind::kActive) made = MakeDir(dir + "/work");
  if (!made.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return made;
}

Result<std::vector<Mount>> Snapshotter::MountsOf(const Record& record) {
  bool active = record.info.kind == Kind::kActive;
  json backing = BackingOf(record);
  if (backing.contains("path")) {
    // containerd sets up the loop device for the "loop" option itself.
    return std::vector<Mount>{{"ext4", backing.value("path", ""), {"loop", active ? "rw" : "ro"}}};
  }
  if (record.parent_ids.empty()) {
    return std::vector<Mount>{{"bind", Dir(record.id) + "/fs", {active ? "rw" : "ro", "rbind"}}};
  }
  // The parents' directories, nearest first; a lode image holds everything
  // below it.
  std::vector<std::string> lower;
  for (int64_t id : record.parent_ids) {
    LODE_ASSIGN_OR_RETURN(Record parent, metadata_->GetById(id));
    LODE_ASSIGN_OR_RETURN(std::string dir, LowerDir(parent));
    lower.push_back(dir);
    if (!parent.backing.empty()) break;
  }
  if (!active && lower.size() == 1) {
    return std::vector<Mount>{{"bind", lower.front(), {"ro", "rbind"}}};
  }
  std::vector<std::string> options;
  if (index_off_) options.push_back("index=off");
  if (active) {
    options.push_back("workdir=" + Dir(record.id) + "/work");
    options.push_back("upperdir=" + Dir(record.id) + "/fs");
  }
  options.push_back("lowerdir=" + Joined(lower, ':'));
  return std::vector<Mount>{{"overlay", "overlay", options}};
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
  Usage usage;
  json backing = BackingOf(record);
  if (backing.contains("attachment")) {
    // The image and the container's copy-on-write overlay, as they are:
    // what is local is the overlay.
    LODE_ASSIGN_OR_RETURN(usage.size, remote_->OverlayBytes(backing.value("attachment", "")));
  } else {
    LODE_ASSIGN_OR_RETURN(usage, DiskUsage(Dir(record.id) + "/fs"));
  }
  return metadata_->Commit(key, name, labels, usage);
}

Status Snapshotter::Remove(const std::string& key) {
  LODE_ASSIGN_OR_RETURN(Record record, metadata_->Get(key));
  json backing = BackingOf(record);
  if (!backing.empty()) {
    Result<bool> has_children = metadata_->HasChildren(record.id);
    if (!has_children.ok()) return has_children.status();
    if (*has_children) return Status::FailedPrecondition("snapshot " + key + " has children");
    std::string lower = root_ + "/lode/" + std::to_string(record.id);
    if (IsMountpoint(lower)) ::umount2(lower.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove(lower, ec);
  }
  for (const json* attached : {&backing, backing.contains("lower") ? &backing["lower"] : nullptr}) {
    if (!attached || !attached->contains("attachment") || !remote_) continue;
    // Refused while containerd still has it mounted; gone already is fine.
    Status detached = remote_->Detach(attached->value("attachment", ""));
    if (!detached.ok() && detached.code() != StatusCode::kNotFound) {
      return detached.WithContext("detach the lode image of snapshot " + key);
    }
  }
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
  if (record.info.kind != Kind::kActive || !record.backing.empty()) return record.usage;
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
