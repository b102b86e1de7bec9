// Applies the entries of an image's layers, top layer first, to build the
// final directory tree (OCI image-spec layer semantics). The first entry seen
// for a path wins; entries an upper layer shadowed, whited out or hid under an
// opaque directory are reported as hidden so their data is never stored.
//
// Hardlinks are resolved as a bottom-up extraction would: a link refers to its
// target as it exists in its own layer (earlier in the same tar) or below. A
// target that is itself hidden in the same layer is kept aside by the caller
// ("spilled") until a link needs it; a target in a lower layer is resolved
// when that layer is reached. Not thread-safe.
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
  bool stored = false;   // data is (or needs no data) in the data region
  bool spilled = false;  // data sits in the caller's spill file
  uint64_t spill_offset = 0;
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
    kNone,   // no data to read (not a regular file, or empty)
    kStore,  // stream the data into the data region, extents into `inode`
    kSpill,  // hidden, but a later hardlink of this layer may need it
  };
  struct Decision {
    DataAction action = DataAction::kNone;
    Inode* inode = nullptr;
    // A spilled inode a hardlink just made necessary: copy its data from the
    // spill file into the data region now.
    Inode* materialize = nullptr;
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
  TreeStats stats_;
};

}  // namespace lode::flatten
