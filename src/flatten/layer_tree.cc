#include "flatten/layer_tree.h"

#include <algorithm>
#include <climits>
#include <queue>

#include "flatten/ext4/format.h"
#include "flatten/limits.h"
#include "util/text.h"

namespace lode::flatten {

using image::EntryType;
using image::TarEntry;

// A name in the merged tree. `layer` is the layer that created the node;
// lower layers (larger indexes) cannot replace it. An opaque directory hides
// whatever layers below `opaque_layer` hold beneath it; a sealed implicit
// directory (re-created above a whiteout) also refuses their metadata.
struct LayerTree::Node {
  enum class Kind { kImplicitDir, kEntry, kWhiteout };
  Kind kind = Kind::kImplicitDir;
  int layer = INT_MAX;
  int opaque_layer = INT_MAX;
  int sealed_layer = INT_MAX;
  Inode* inode = nullptr;
  std::map<std::string, std::unique_ptr<Node>> children;

  bool IsDirectory() const {
    return kind == Kind::kImplicitDir ||
           (kind == Kind::kEntry && (inode->fs.mode & ext4::kModeTypeMask) == ext4::kModeDirectory);
  }
};

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

uint16_t ModeOf(const TarEntry& e) {
  uint16_t type = ext4::kModeRegular;
  switch (e.type) {
    case EntryType::kDirectory:
      type = ext4::kModeDirectory;
      break;
    case EntryType::kSymlink:
      type = ext4::kModeSymlink;
      break;
    case EntryType::kCharDevice:
      type = ext4::kModeCharDevice;
      break;
    case EntryType::kBlockDevice:
      type = ext4::kModeBlockDevice;
      break;
    case EntryType::kFifo:
      type = ext4::kModeFifo;
      break;
    case EntryType::kFile:
    case EntryType::kHardlink:
      break;
  }
  return static_cast<uint16_t>(type | (e.mode & 07777));
}

std::string Join(const std::vector<std::string>& comps) {
  std::string out;
  for (const std::string& c : comps) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

}  // namespace

LayerTree::LayerTree() : root_(std::make_unique<Node>()) { root_->inode = NewDirInode(); }
LayerTree::~LayerTree() = default;

Result<std::vector<std::string>> LayerTree::SplitPath(const std::string& path) {
  if (path.size() > kMaxPathBytes) {
    return Status::InvalidArgument("path of " + std::to_string(path.size()) +
                                   " bytes (the limit is " + std::to_string(kMaxPathBytes) + ")");
  }
  std::vector<std::string> comps;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string c = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (comps.empty()) return Status::InvalidArgument("path escapes the image root");
      comps.pop_back();
      continue;
    }
    if (c.size() > kMaxNameBytes) {
      return Status::InvalidArgument("file name of " + std::to_string(c.size()) +
                                     " bytes (ext4 allows " + std::to_string(kMaxNameBytes) + ")");
    }
    comps.push_back(std::move(c));
  }
  if (comps.size() > kMaxPathDepth) {
    return Status::InvalidArgument("path " + std::to_string(comps.size()) +
                                   " directories deep (the limit is " +
                                   std::to_string(kMaxPathDepth) + ")");
  }
  return comps;
}

Inode* LayerTree::NewInode(const TarEntry& e) {
  Inode& inode = inodes_.emplace_back();
  ext4::FsInode& fs = inode.fs;
  fs.mode = ModeOf(e);
  fs.uid = e.uid;
  fs.gid = e.gid;
  fs.mtime = e.mtime;
  fs.atime = e.atime.value_or(e.mtime);
  fs.ctime = e.ctime.value_or(e.mtime);
  fs.size = e.type == EntryType::kFile ? e.size : 0;
  if (e.type == EntryType::kSymlink) fs.symlink_target = e.link_target;
  fs.dev_major = e.dev_major;
  fs.dev_minor = e.dev_minor;
  fs.xattrs = e.xattrs;
  inode.stored = e.type != EntryType::kFile || e.size == 0;
  inode.has_entry = true;
  inode.layer_entry = layer_entry_;
  return &inode;
}

Inode* LayerTree::NewDirInode() {
  Inode& inode = inodes_.emplace_back();
  inode.fs.mode = ext4::kModeDirectory | 0755;
  inode.stored = true;
  return &inode;
}

Inode* LayerTree::Find(Inode* inode) {
  while (inode->forward != nullptr) inode = inode->forward;
  return inode;
}

// Walks to the parent directory of `comps`, creating implicit directories.
// Returns nullptr when something above hides the path from `layer`.
LayerTree::Node* LayerTree::WalkParents(const std::vector<std::string>& comps, int layer) {
  Node* dir = root_.get();
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    if (dir->opaque_layer < layer) return nullptr;
    auto it = dir->children.find(comps[i]);
    if (it == dir->children.end()) {
      auto child = std::make_unique<Node>();
      child->layer = layer;
      child->inode = NewDirInode();
      it = dir->children.emplace(comps[i], std::move(child)).first;
    }
    Node* child = it->second.get();
    if (child->kind == Node::Kind::kWhiteout) {
      if (child->layer < layer) return nullptr;
      // Re-created in the layer that whites it out: lower content stays hidden.
      child->kind = Node::Kind::kImplicitDir;
      child->inode = NewDirInode();
      child->opaque_layer = child->sealed_layer = layer;
    } else if (!child->IsDirectory()) {
      return nullptr;  // a non-directory from this or an upper layer
    }
    dir = child;
  }
  if (dir->opaque_layer < layer) return nullptr;
  return dir;
}

Result<bool> LayerTree::Place(const std::vector<std::string>& comps, const TarEntry& e, int layer,
                              Inode* inode) {
  bool is_dir = e.type == EntryType::kDirectory;
  if (comps.empty()) {  // the root itself: its metadata comes from the topmost entry
    if (!is_dir) return Status::InvalidArgument("image root is not a directory");
    if (root_->kind == Node::Kind::kEntry) return false;
    root_->kind = Node::Kind::kEntry;
    root_->layer = layer;
    root_->inode = inode;
    return true;
  }
  Node* dir = WalkParents(comps, layer);
  if (dir == nullptr) return false;
  auto [it, fresh] = dir->children.try_emplace(comps.back());
  Node* node = it->second.get();
  if (fresh) {
    it->second = std::make_unique<Node>();
    node = it->second.get();
  } else if (node->kind == Node::Kind::kImplicitDir) {
    // Only a directory entry from a layer the directory is not sealed against
    // gives it metadata; anything else there is hidden by the directory.
    if (!is_dir || layer > node->sealed_layer) return false;
    node->kind = Node::Kind::kEntry;
    node->layer = layer;
    node->inode = inode;
    return true;
  } else if (node->layer < layer) {
    return false;  // shadowed or whited out by an upper layer
  } else if (node->kind == Node::Kind::kEntry && node->IsDirectory() != is_dir) {
    return Status::InvalidArgument("layer changes the type of " + Join(comps) + " within itself");
  } else if (node->kind == Node::Kind::kWhiteout) {
    node->opaque_layer = layer;  // whited out in this layer: lower content stays hidden
  }
  // A new node, or a later entry of the same layer replacing an earlier one.
  node->kind = Node::Kind::kEntry;
  node->layer = layer;
  node->inode = inode;
  return true;
}

Status LayerTree::FailRequestsUnder(const std::string& prefix, int layer) {
  for (auto it = pending_.lower_bound(prefix); it != pending_.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    if (key.size() != prefix.size() && key[prefix.size()] != '/' && !prefix.empty()) continue;
    for (const Request& r : it->second) {
      if (r.layer < layer) {
        return Status::InvalidArgument("hardlink " + r.link_path + ": target " + key +
                                       " is deleted below the link");
      }
    }
  }
  return Status::Ok();
}

Status LayerTree::ApplyWhiteout(const std::vector<std::string>& comps, int layer) {
  ++stats_.whiteouts;
  std::vector<std::string> parent(comps.begin(), comps.end() - 1);
  Node* dir = WalkParents(comps, layer);
  if (dir == nullptr) return Status::Ok();
  if (comps.back() == kOpaqueMarker) {
    dir->opaque_layer = std::min(dir->opaque_layer, layer);
    std::string prefix = Join(parent);
    return FailRequestsUnder(prefix.empty() ? prefix : prefix + "/", layer);
  }
  std::string name = comps.back().substr(kWhiteoutPrefix.size());
  if (name.empty() || name == "." || name == "..") {
    return Status::InvalidArgument("malformed whiteout " + Join(comps));
  }
  parent.push_back(name);
  LODE_RETURN_IF_ERROR(FailRequestsUnder(Join(parent), layer));
  auto it = dir->children.find(name);
  if (it == dir->children.end()) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kWhiteout;
    node->layer = layer;
    dir->children.emplace(name, std::move(node));
    return Status::Ok();
  }
  Node* node = it->second.get();
  if (node->layer == layer || node->kind == Node::Kind::kImplicitDir) {
    // Present in this layer (or implied by an upper one): only the lower
    // version goes, so nothing below may show through.
    node->opaque_layer = std::min(node->opaque_layer, layer);
    if (node->kind == Node::Kind::kImplicitDir)
      node->sealed_layer = std::min(node->sealed_layer, layer);
  }
  return Status::Ok();
}

Result<bool> LayerTree::ResolveRequests(const std::string& key, int layer, Inode* inode) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return false;
  bool resolved = false;
  std::vector<Request>& requests = it->second;
  for (auto r = requests.begin(); r != requests.end();) {
    if (r->layer >= layer) {
      ++r;
      continue;
    }
    if ((inode->fs.mode & ext4::kModeTypeMask) == ext4::kModeDirectory) {
      return Status::InvalidArgument("hardlink " + r->link_path + " points at directory " + key);
    }
    Inode* target = Find(inode);
    if (Find(r->placeholder) != target) r->placeholder->forward = target;
    resolved = true;
    r = requests.erase(r);
  }
  if (requests.empty()) pending_.erase(it);
  return resolved;
}

Status LayerTree::CountXattrs(const TarEntry& e) {
  // A later value of a name replaces an earlier one (archives may carry
  // both a SCHILY and a LIBARCHIVE record of each).
  std::map<std::string_view, size_t> sizes;
  for (const auto& [name, value] : e.xattrs) sizes[name] = name.size() + value.size();
  size_t bytes = 0;
  for (const auto& [name, size] : sizes) bytes += size;
  if (bytes > kMaxXattrBytesPerEntry) {
    return Status::InvalidArgument("extended attributes of " + std::to_string(bytes) +
                                   " bytes (the limit is " +
                                   std::to_string(kMaxXattrBytesPerEntry) + " per file)");
  }
  xattr_bytes_ += bytes;
  if (xattr_bytes_ > kMaxXattrBytes) {
    return Status::InvalidArgument("more than " + std::to_string(kMaxXattrBytes >> 20) +
                                   " MiB of extended attributes in the image (the limit)");
  }
  return Status::Ok();
}

Result<LayerTree::Decision> LayerTree::Apply(const TarEntry& e, int layer) {
  if (layer != current_layer_) {
    current_layer_ = layer;
    layer_inodes_.clear();
    layer_entry_ = 0;
  } else {
    ++layer_entry_;
  }
  if (++stats_.entries > kMaxEntries) {
    return Status::InvalidArgument("more than " + std::to_string(kMaxEntries) +
                                   " entries in the image's layers (the limit)");
  }
  LODE_RETURN_IF_ERROR(CountXattrs(e));
  if (e.type == EntryType::kSymlink && e.link_target.empty()) {
    // Linux cannot make one (symlink(2) fails) and ext4 holds none.
    return Status::InvalidArgument("symlink with an empty target");
  }
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> comps, SplitPath(e.path));
  if (!comps.empty() && comps.back().rfind(kWhiteoutPrefix, 0) == 0) {
    LODE_RETURN_IF_ERROR(ApplyWhiteout(comps, layer));
    return Decision{};
  }
  std::string key = Join(comps);
  Decision d;
  Inode* inode;
  if (e.type == EntryType::kHardlink) {
    ++stats_.hardlinks;
    Result<std::vector<std::string>> target = SplitPath(e.link_target);
    if (!target.ok())
      return target.status().WithContext("hardlink target " + Excerpt(e.link_target));
    std::string target_key = Join(*target);
    auto same_layer = layer_inodes_.find(target_key);
    if (same_layer != layer_inodes_.end()) {
      inode = Find(same_layer->second);
    } else {
      inode = &inodes_.emplace_back();
      pending_[target_key].push_back({layer, inode, e.path});
    }
  } else {
    inode = NewInode(e);
  }
  if (e.type != EntryType::kDirectory) layer_inodes_[key] = inode;
  LODE_ASSIGN_OR_RETURN(bool resolved, ResolveRequests(key, layer, inode));
  LODE_ASSIGN_OR_RETURN(bool visible, Place(comps, e, layer, inode));
  if (!visible) ++stats_.hidden;
  bool needed = visible || resolved;
  Inode* target = Find(inode);
  if (e.type == EntryType::kHardlink) {
    if (needed && !target->stored && target->has_entry) d.reread = target;
  } else if (!target->stored && needed) {
    d.inode = target;
    d.action = DataAction::kStore;
  }
  if (d.reread) d.reread->stored = true;
  if (d.inode) d.inode->stored = true;
  return d;
}

Result<ext4::FsTree> LayerTree::Finish() {
  for (const auto& [key, requests] : pending_) {
    return Status::InvalidArgument("hardlink " + requests.front().link_path + ": target " + key +
                                   " does not exist");
  }
  ext4::FsTree tree;
  std::unordered_map<Inode*, uint32_t> index;
  auto add = [&](Inode* inode, uint32_t parent) {
    uint32_t i = static_cast<uint32_t>(tree.inodes.size());
    index[inode] = i;
    tree.inodes.push_back(inode->fs);
    tree.entries.emplace_back();
    tree.parent.push_back(parent);
    return i;
  };
  add(Find(root_->inode), 0);
  auto lf = root_->children.find("lost+found");
  Node* lost_found = nullptr;
  if (lf != root_->children.end() && lf->second->kind != Node::Kind::kWhiteout) {
    lost_found = lf->second.get();
    if (!lost_found->IsDirectory()) {
      return Status::InvalidArgument("the image's /lost+found is not a directory");
    }
    add(lost_found->inode, 0);
  } else {
    Inode* inode = NewDirInode();
    inode->fs.mode = ext4::kModeDirectory | 0700;
    add(inode, 0);
    tree.entries[0].push_back({"lost+found", 1});
  }
  // Breadth-first, children in name order: a directory's inodes are adjacent.
  std::queue<std::pair<Node*, uint32_t>> dirs;
  dirs.push({root_.get(), 0});
  while (!dirs.empty()) {
    auto [dir, dir_index] = dirs.front();
    dirs.pop();
    for (auto& [name, child] : dir->children) {
      if (child->kind == Node::Kind::kWhiteout) continue;
      Inode* inode = Find(child->inode);
      uint32_t i;
      if (child.get() == lost_found) {
        i = 1;
      } else if (auto it = index.find(inode); it != index.end()) {
        i = it->second;
      } else {
        i = add(inode, dir_index);
      }
      tree.entries[dir_index].push_back({name, i});
      if (child->IsDirectory()) {
        dirs.push({child.get(), i});
      } else if (++tree.inodes[i].links > ext4::kMaxLinks) {
        return Status::InvalidArgument("more than 65000 hardlinks to " + name);
      }
    }
  }
  std::sort(tree.entries[0].begin(), tree.entries[0].end(),
            [](const ext4::FsDirEntry& a, const ext4::FsDirEntry& b) { return a.name < b.name; });
  return tree;
}

}  // namespace lode::flatten
