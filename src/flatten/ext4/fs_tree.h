// The input of the ext4 writer: a finished tree of inodes whose file data is
// already in the data region. Built by the layer applier; knows nothing of tar.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "image/tar_reader.h"

namespace lode::flatten::ext4 {

using image::Timestamp;

// A run of file blocks: `length` blocks from logical block `logical`, stored
// from block `data_block` of the data region (relative to its start).
struct DataExtent {
  uint32_t logical;
  uint32_t length;
  uint64_t data_block;
};

struct FsInode {
  uint16_t mode = 0;  // type and permission bits
  uint32_t uid = 0, gid = 0;
  Timestamp atime, mtime, ctime;
  uint64_t size = 0;           // regular files
  std::string symlink_target;  // symlinks
  uint32_t dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::vector<DataExtent> extents;  // regular files; sorted, non-overlapping
  uint32_t links = 0;               // dentries naming this inode (files only)
};

struct FsDirEntry {
  std::string name;
  uint32_t inode;  // index into FsTree::inodes
};

// inodes[0] is the root directory and inodes[1] is /lost+found; inode
// numbers are assigned in vector order (2, 11, 12, 13, ...).
struct FsTree {
  std::vector<FsInode> inodes;
  // Entries of each directory inode, sorted by name; empty for non-directories.
  std::vector<std::vector<FsDirEntry>> entries;
  std::vector<uint32_t> parent;  // parent directory of each directory inode
};

}  // namespace lode::flatten::ext4
