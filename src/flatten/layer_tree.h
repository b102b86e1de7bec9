// Applies the entries of an image's layers, top layer first, to build the
// final directory tree (OCI image-spec layer semantics). The first entry seen
// for a path wins; entries an upper layer shadowed, whited out or hid under an
// opaque directory are reported as hidden so their data is never stored.
//
// Hardlinks are resolved as a bottom-up extraction would: a link refers to its
// target as it exists in its own layer (earlier in the same tar) or below. A
// target in a lower layer is resolved when that layer is reached. A target
// hidden in the same layer has had its data skipped already: the caller reads
// it again from a second pass over that layer (rare: a link to a file an
// upper layer replaced). Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "flatten/ext4/fs_tree.h"
#include "image/tar_reader.h"
#include "util/status.h"

namespace lode::flatten {

// An inode under construction. Hardlinks may first point at a placeholder
// that is later forwarded to the inode of the link's target.
struct Inode {
  ext4::FsInode fs;
  Inode* forward = nullptr;
  bool stored = false;       // data is (or will be) in the data region, or needs none
  bool has_entry = false;    // made from a tar entry (not a hardlink placeholder)
  uint64_t layer_entry = 0;  // that entry's position in its layer's tar
};

struct TreeStats {
  uint64_t entries = 0;
  uint64_t hidden = 0;  // shadowed, whited out, or under an opaque directory
  uint64_t whiteouts = 0;
  uint64_t hardlinks = 0;
};

class LayerTree {
 public:
  LayerTree();
  ~LayerTree();

  enum class DataAction {
    kNone,   // no data to read: not a regular file, empty, or hidden
    kStore,  // stream the data into the data region, extents into `inode`
  };
  struct Decision {
    DataAction action = DataAction::kNone;
    Inode* inode = nullptr;
    // A hidden entry of this layer that a hardlink just made necessary: its
    // data (entry number reread->layer_entry) must be read again.
    Inode* reread = nullptr;
  };

  // Applies one entry of layer `layer` (0 is the top layer; layers must come
  // in increasing order). Path escapes and conflicting types are errors.
  Result<Decision> Apply(const image::TarEntry& entry, int layer);

  // Ends the pass: checks every hardlink found its target and produces the
  // writer's tree (inode order: root, lost+found, then breadth-first by name).
  Result<ext4::FsTree> Finish();

  const TreeStats& stats() const { return stats_; }

  // Splits and normalises a tar path ("./a//b/../c" → {"a","c"}); paths that
  // climb out of the root are InvalidArgument.
  static Result<std::vector<std::string>> SplitPath(const std::string& path);

 private:
  struct Node;
  struct Request {
    int layer;
    Inode* placeholder;
    std::string link_path;
  };

  // Counts the entry's extended attributes against the limits (limits.h).
  Status CountXattrs(const image::TarEntry& entry);
  Inode* NewInode(const image::TarEntry& entry);
  Inode* NewDirInode();
  static Inode* Find(Inode* inode);
  Result<bool> Place(const std::vector<std::string>& comps, const image::TarEntry& entry, int layer,
                     Inode* inode);
  Node* WalkParents(const std::vector<std::string>& comps, int layer);
  Status ApplyWhiteout(const std::vector<std::string>& comps, int layer);
  Status FailRequestsUnder(const std::string& prefix, int layer);
  Result<bool> ResolveRequests(const std::string& key, int layer, Inode* inode);

  std::unique_ptr<Node> root_;
  std::deque<Inode> inodes_;
  std::map<std::string, std::vector<Request>> pending_;
  std::unordered_map<std::string, Inode*> layer_inodes_;  // this layer's non-directories
  int current_layer_ = -1;
  uint64_t layer_entry_ = 0;  // position of the entry being applied in its layer
  uint64_t xattr_bytes_ = 0;  // of every entry applied
  TreeStats stats_;
};

}  // namespace lode::flatten
