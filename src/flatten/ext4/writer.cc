// Metadata region layout, in block order:
//   0                superblock (at byte 1024; no backups: sparse_super2)
//   1..              group descriptor table
//   ..               block bitmaps of every group, then inode bitmaps (flex_bg)
//   ..               inode tables of every group
//   ..               directory blocks, slow symlink blocks, xattr blocks,
//                    extent tree blocks, in inode order
// then free blocks up to the data region, which starts aligned. Everything
// depends only on the tree, so the bytes are a pure function of the image.
#include "flatten/ext4/writer.h"

#include <map>

#include "flatten/ext4/directory.h"
#include "flatten/ext4/extents.h"
#include "flatten/ext4/format.h"
#include "flatten/ext4/xattr.h"

namespace lode::flatten::ext4 {
namespace {

constexpr uint32_t kMinLastGroupBlocks = 64;
constexpr uint32_t kFastSymlinkMax = 59;

uint32_t InoOf(size_t index) { return index == 0 ? kRootIno : 10 + static_cast<uint32_t>(index); }

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint8_t FileTypeOf(uint16_t mode) {
  switch (mode & kModeTypeMask) {
    case kModeRegular:
      return kFtRegular;
    case kModeDirectory:
      return kFtDirectory;
    case kModeCharDevice:
      return kFtCharDevice;
    case kModeBlockDevice:
      return kFtBlockDevice;
    case kModeFifo:
      return kFtFifo;
    case kModeSymlink:
      return kFtSymlink;
    default:
      return kFtUnknown;
  }
}

bool IsDir(const FsInode& i) { return (i.mode & kModeTypeMask) == kModeDirectory; }
bool IsSlowSymlink(const FsInode& i) {
  return (i.mode & kModeTypeMask) == kModeSymlink && i.symlink_target.size() > kFastSymlinkMax;
}

// Seconds and nanoseconds as ext4 stores them: low 32 bits of the seconds,
// and an extra word of (nanoseconds << 2 | epoch bits).
std::pair<uint32_t, uint32_t> EncodeTime(const Timestamp& t) {
  auto low = static_cast<int32_t>(static_cast<uint32_t>(t.sec));
  uint32_t epoch = static_cast<uint32_t>((t.sec - low) >> 32) & 3;
  return {static_cast<uint32_t>(low), (t.nsec << 2) | epoch};
}

struct Layout {
  uint32_t groups = 0;
  uint32_t inodes_per_group = 0;
  uint32_t gdt_blocks = 0;
  uint32_t itable_blocks = 0;  // per group
  uint64_t block_bitmaps = 0, inode_bitmaps = 0, inode_tables = 0, other_meta = 0;
  uint64_t meta_end = 0, data_start = 0, total_blocks = 0;
};

class Writer {
 public:
  Writer(const FsTree& tree, const WriterOptions& options, ImageSink* sink)
      : tree_(tree), opt_(options), sink_(sink) {}

  Result<WriterStats> Run() {
    LODE_RETURN_IF_ERROR(Plan());
    ComputeLayout();
    Allocate();
    LODE_RETURN_IF_ERROR(BuildBitmaps());
    LODE_RETURN_IF_ERROR(
        sink_->BeginMetadata(layout_.data_start * kBlockSize, layout_.total_blocks * kBlockSize));
    LODE_RETURN_IF_ERROR(WriteSuperblockAndDescriptors());
    LODE_RETURN_IF_ERROR(Write(layout_.block_bitmaps, block_bitmap_));
    LODE_RETURN_IF_ERROR(Write(layout_.inode_bitmaps, inode_bitmap_));
    LODE_RETURN_IF_ERROR(WriteInodeTables());
    LODE_RETURN_IF_ERROR(WriteOtherMetadata());
    WriterStats stats;
    stats.total_bytes = layout_.total_blocks * kBlockSize;
    stats.metadata_bytes = layout_.meta_end * kBlockSize;
    stats.inodes_used = inodes_used_;
    return stats;
  }

 private:
  struct InodePlan {
    uint32_t meta_blocks = 0;  // directory or slow symlink blocks
    uint64_t meta_first = 0;
    int32_t xattr = -1;           // index into xattrs_
    int32_t xattr_block = -1;     // index into xattr_blocks_
    std::vector<Extent> extents;  // split; physical relative to the data region until Allocate
    uint32_t tree_blocks = 0;
    uint64_t tree_first = 0;
    uint32_t subdirs = 0;
  };

  Status Plan() {
    size_t n = tree_.inodes.size();
    plans_.resize(n);
    dirs_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const FsInode& inode = tree_.inodes[i];
      InodePlan& p = plans_[i];
      if (IsDir(inode)) {
        LODE_RETURN_IF_ERROR(PlanDirectory(i));
      } else if (IsSlowSymlink(inode)) {
        if (inode.symlink_target.size() >= kBlockSize) {
          return Status::InvalidArgument("symlink target longer than 4095 bytes");
        }
        p.meta_blocks = 1;
      }
      if (!inode.xattrs.empty()) LODE_RETURN_IF_ERROR(PlanXattrs(i));
      std::vector<Extent> runs;
      for (const DataExtent& e : inode.extents) runs.push_back({e.logical, e.length, e.data_block});
      p.extents = SplitLongExtents(runs);
      p.tree_blocks = ExtentTreeBlocks(p.extents.size());
      meta_blocks_ += p.meta_blocks + p.tree_blocks;
    }
    meta_blocks_ += static_cast<uint32_t>(xattr_blocks_.size());
    return Status::Ok();
  }

  Status PlanDirectory(size_t i) {
    std::vector<DirEntryRef> refs;
    for (const FsDirEntry& e : tree_.entries[i]) {
      const FsInode& child = tree_.inodes[e.inode];
      refs.push_back({&e.name, InoOf(e.inode), FileTypeOf(child.mode)});
      if (IsDir(child)) ++plans_[i].subdirs;
    }
    LODE_ASSIGN_OR_RETURN(dirs_[i], BuildDirectory(refs, InoOf(i), InoOf(tree_.parent[i]),
                                                   opt_.hash_seed, i == 1 ? kLostFoundBlocks : 1));
    plans_[i].meta_blocks = dirs_[i].BlockCount();
    return Status::Ok();
  }

  Status PlanXattrs(size_t i) {
    LODE_ASSIGN_OR_RETURN(EncodedXattrs enc, EncodeXattrs(tree_.inodes[i].xattrs,
                                                          "inode " + std::to_string(InoOf(i))));
    if (enc.block) {
      // Identical attribute blocks are stored once and reference counted.
      auto [it, fresh] =
          xattr_block_ids_.try_emplace(std::string(enc.block->begin(), enc.block->end()),
                                       static_cast<int32_t>(xattr_blocks_.size()));
      if (fresh) {
        xattr_blocks_.push_back(*enc.block);
        xattr_refs_.push_back(0);
      }
      ++xattr_refs_[static_cast<size_t>(it->second)];
      plans_[i].xattr_block = it->second;
    }
    if (enc.has_ibody) {
      plans_[i].xattr = static_cast<int32_t>(xattrs_.size());
      xattrs_.push_back(enc.ibody);
    }
    return Status::Ok();
  }

  void ComputeLayout() {
    inodes_used_ = InoOf(tree_.inodes.size() - 1);
    uint64_t inodes_wanted = uint64_t{inodes_used_} + opt_.extra_inodes;
    uint64_t align = std::max<uint64_t>(1, opt_.data_alignment / kBlockSize);
    uint64_t headroom = CeilDiv(opt_.headroom_bytes, kBlockSize);
    Layout& l = layout_;
    l.groups = static_cast<uint32_t>(std::max<uint64_t>(
        1, CeilDiv(opt_.data_blocks + headroom + meta_blocks_, kBlocksPerGroup)));
    // Growing the group count grows the metadata, which may need more groups.
    while (true) {
      l.groups = std::max<uint32_t>(
          l.groups, static_cast<uint32_t>(CeilDiv(inodes_wanted, kMaxInodesPerGroup)));
      uint64_t per_group = CeilDiv(inodes_wanted, l.groups);
      l.inodes_per_group =
          static_cast<uint32_t>(std::max<uint64_t>(16, CeilDiv(per_group, 16) * 16));
      l.gdt_blocks =
          static_cast<uint32_t>(CeilDiv(uint64_t{l.groups} * kGroupDescSize, kBlockSize));
      l.itable_blocks = l.inodes_per_group * kInodeSize / kBlockSize;
      l.block_bitmaps = 1 + l.gdt_blocks;
      l.inode_bitmaps = l.block_bitmaps + l.groups;
      l.inode_tables = l.inode_bitmaps + l.groups;
      l.other_meta = l.inode_tables + uint64_t{l.groups} * l.itable_blocks;
      l.meta_end = l.other_meta + meta_blocks_;
      l.data_start = CeilDiv(l.meta_end, align) * align;
      l.total_blocks = l.data_start + opt_.data_blocks + headroom;
      l.total_blocks =
          std::max(l.total_blocks, uint64_t{l.groups - 1} * kBlocksPerGroup + kMinLastGroupBlocks);
      uint32_t needed = static_cast<uint32_t>(CeilDiv(l.total_blocks, kBlocksPerGroup));
      if (needed <= l.groups) break;
      l.groups = needed;
    }
  }

  void Allocate() {
    uint64_t next = layout_.other_meta;
    for (InodePlan& p : plans_) {
      p.meta_first = next;
      next += p.meta_blocks;
    }
    xattr_block_first_ = next;
    next += xattr_blocks_.size();
    for (InodePlan& p : plans_) {
      p.tree_first = next;
      next += p.tree_blocks;
      for (Extent& e : p.extents) e.physical += layout_.data_start;
    }
  }

  void MarkBlocks(uint64_t first, uint64_t count) {
    for (uint64_t b = first; b < first + count; ++b)
      block_bitmap_[b / 8] |= static_cast<uint8_t>(1u << (b % 8));
  }

  Status BuildBitmaps() {
    const Layout& l = layout_;
    block_bitmap_.assign(size_t{l.groups} * kBlockSize, 0);
    MarkBlocks(0, l.meta_end);
    for (const InodePlan& p : plans_) {
      for (const Extent& e : p.extents) MarkBlocks(e.physical, e.length);
    }
    // Bits past the end of the filesystem are set, as mke2fs does.
    MarkBlocks(l.total_blocks, uint64_t{l.groups} * kBlocksPerGroup - l.total_blocks);
    inode_bitmap_.assign(size_t{l.groups} * kBlockSize, 0);
    group_free_blocks_.assign(l.groups, 0);
    group_free_inodes_.assign(l.groups, l.inodes_per_group);
    group_dirs_.assign(l.groups, 0);
    auto use_inode = [&](uint32_t ino, bool dir) {
      uint32_t g = (ino - 1) / l.inodes_per_group, bit = (ino - 1) % l.inodes_per_group;
      inode_bitmap_[size_t{g} * kBlockSize + bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
      --group_free_inodes_[g];
      if (dir) ++group_dirs_[g];
    };
    for (uint32_t ino = 1; ino < kFirstIno; ++ino) use_inode(ino, ino == kRootIno);
    for (size_t i = 1; i < tree_.inodes.size(); ++i) use_inode(InoOf(i), IsDir(tree_.inodes[i]));
    for (uint32_t g = 0; g < l.groups; ++g) {
      uint8_t* bits = inode_bitmap_.data() + size_t{g} * kBlockSize;
      for (uint32_t bit = l.inodes_per_group; bit < kMaxInodesPerGroup; ++bit)
        bits[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
      uint32_t used = 0;
      for (uint32_t byte = 0; byte < kBlockSize; ++byte)
        used +=
            static_cast<uint32_t>(__builtin_popcount(block_bitmap_[size_t{g} * kBlockSize + byte]));
      group_free_blocks_[g] = kBlocksPerGroup - used;
      free_blocks_total_ += group_free_blocks_[g];
      free_inodes_total_ += group_free_inodes_[g];
    }
    return Status::Ok();
  }

  Status Write(uint64_t block, const std::vector<uint8_t>& bytes) {
    return sink_->WriteMetadata(block * kBlockSize, bytes);
  }

  Status WriteSuperblockAndDescriptors() {
    const Layout& l = layout_;
    std::vector<uint8_t> head(size_t{1 + l.gdt_blocks} * kBlockSize, 0);
    uint8_t* sb = head.data() + 1024;
    Put32(sb + 0x00, l.groups * l.inodes_per_group);
    Put32(sb + 0x04, static_cast<uint32_t>(l.total_blocks));
    Put32(sb + 0x0C, static_cast<uint32_t>(free_blocks_total_));
    Put32(sb + 0x10, free_inodes_total_);
    Put32(sb + 0x18, kLogBlockSize);
    Put32(sb + 0x1C, kLogBlockSize);
    Put32(sb + 0x20, kBlocksPerGroup);
    Put32(sb + 0x24, kBlocksPerGroup);
    Put32(sb + 0x28, l.inodes_per_group);
    Put16(sb + 0x36, 0xFFFF);  // no mount-count checks
    Put16(sb + 0x38, kSuperMagic);
    Put16(sb + 0x3A, 1);  // cleanly unmounted
    Put16(sb + 0x3C, 1);  // on errors: continue
    Put32(sb + 0x4C, 1);  // dynamic revision
    Put32(sb + 0x54, kFirstIno);
    Put16(sb + 0x58, kInodeSize);
    Put32(sb + 0x5C, kCompatFeatures);
    Put32(sb + 0x60, kIncompatFeatures);
    Put32(sb + 0x64, kRoCompatFeatures);
    std::copy(opt_.uuid.begin(), opt_.uuid.end(), sb + 0x68);
    for (int i = 0; i < 4; ++i) Put32(sb + 0xEC + 4 * i, opt_.hash_seed[i]);
    sb[0xFC] = kHashHalfMd4;
    Put32(sb + 0x100, 0x000C);  // default mount options: user_xattr, acl
    Put16(sb + 0x15C, kExtraInodeSize);
    Put16(sb + 0x15E, kExtraInodeSize);
    Put32(sb + 0x160, kFlagsUnsignedHash);
    sb[0x174] = kLogGroupsPerFlex;
    for (uint32_t g = 0; g < l.groups; ++g) {
      uint8_t* gd = head.data() + kBlockSize + size_t{g} * kGroupDescSize;
      Put32(gd + 0x00, static_cast<uint32_t>(l.block_bitmaps + g));
      Put32(gd + 0x04, static_cast<uint32_t>(l.inode_bitmaps + g));
      Put32(gd + 0x08, static_cast<uint32_t>(l.inode_tables + uint64_t{g} * l.itable_blocks));
      Put16(gd + 0x0C, static_cast<uint16_t>(group_free_blocks_[g]));
      Put16(gd + 0x0E, static_cast<uint16_t>(group_free_inodes_[g]));
      Put16(gd + 0x10, static_cast<uint16_t>(group_dirs_[g]));
    }
    return Write(0, head);
  }

  uint32_t BlocksOf(size_t i) const {
    const InodePlan& p = plans_[i];
    uint64_t blocks = p.meta_blocks + p.tree_blocks + (p.xattr_block >= 0 ? 1 : 0);
    for (const Extent& e : p.extents) blocks += e.length;
    return static_cast<uint32_t>(blocks * (kBlockSize / 512));
  }

  void EncodeInode(size_t i, uint8_t* out) const {
    const FsInode& in = tree_.inodes[i];
    const InodePlan& p = plans_[i];
    Put16(out + 0x00, in.mode);
    Put16(out + 0x02, static_cast<uint16_t>(in.uid));
    Put16(out + 0x78, static_cast<uint16_t>(in.uid >> 16));
    Put16(out + 0x18, static_cast<uint16_t>(in.gid));
    Put16(out + 0x7A, static_cast<uint16_t>(in.gid >> 16));
    uint64_t size = in.size;
    uint32_t flags = 0;
    uint32_t links = in.links;
    if (IsDir(in)) {
      size = uint64_t{p.meta_blocks} * kBlockSize;
      links = 2 + p.subdirs >= kMaxLinks ? 1 : 2 + p.subdirs;
      flags |= dirs_[i].hashed ? kIndexFl : 0;
    } else if ((in.mode & kModeTypeMask) == kModeSymlink) {
      size = in.symlink_target.size();
    }
    Put32(out + 0x04, static_cast<uint32_t>(size));
    Put32(out + 0x6C, static_cast<uint32_t>(size >> 32));
    Put16(out + 0x1A, static_cast<uint16_t>(links));
    Put32(out + 0x1C, BlocksOf(i));
    EncodeBlockMap(i, out + 0x28, &flags);
    Put32(out + 0x20, flags);
    if (p.xattr_block >= 0)
      Put32(out + 0x68,
            static_cast<uint32_t>(xattr_block_first_ + static_cast<uint64_t>(p.xattr_block)));
    auto [atime, atime_x] = EncodeTime(in.atime);
    auto [ctime, ctime_x] = EncodeTime(in.ctime);
    auto [mtime, mtime_x] = EncodeTime(in.mtime);
    Put32(out + 0x08, atime);
    Put32(out + 0x0C, ctime);
    Put32(out + 0x10, mtime);
    Put16(out + 0x80, kExtraInodeSize);
    Put32(out + 0x84, ctime_x);
    Put32(out + 0x88, mtime_x);
    Put32(out + 0x8C, atime_x);
    Put32(out + 0x90, ctime);  // creation time: the same as the change time
    Put32(out + 0x94, ctime_x);
    if (p.xattr >= 0) {
      const auto& body = xattrs_[static_cast<size_t>(p.xattr)];
      std::copy(body.begin(), body.end(), out + kInodeXattrOffset);
    }
  }

  // i_block: extents, an inline symlink target, or a device number.
  void EncodeBlockMap(size_t i, uint8_t* block, uint32_t* flags) const {
    const FsInode& in = tree_.inodes[i];
    const InodePlan& p = plans_[i];
    switch (in.mode & kModeTypeMask) {
      case kModeCharDevice:
      case kModeBlockDevice:
        if (in.dev_major < 256 && in.dev_minor < 256) {
          Put32(block, in.dev_major << 8 | in.dev_minor);
        } else {
          Put32(block + 4,
                (in.dev_minor & 0xff) | (in.dev_major << 8) | ((in.dev_minor & ~0xffu) << 12));
        }
        return;
      case kModeFifo:
        return;
      case kModeSymlink:
        if (!IsSlowSymlink(in)) {
          std::copy(in.symlink_target.begin(), in.symlink_target.end(), block);
          return;
        }
        break;
      default:
        break;
    }
    std::vector<Extent> extents = p.extents;
    if (p.meta_blocks > 0) extents = {{0, p.meta_blocks, p.meta_first}};
    EncodedExtentTree t = EncodeExtentTree(extents, p.tree_first);
    std::copy(t.i_block.begin(), t.i_block.end(), block);
    *flags |= kExtentsFl;
  }

  Status WriteInodeTables() {
    const Layout& l = layout_;
    constexpr uint32_t kBatchBlocks = 256;
    std::vector<uint8_t> batch;
    uint64_t used_blocks = CeilDiv(inodes_used_, kBlockSize / kInodeSize);
    // Inodes are numbered consecutively across the tables, which are
    // contiguous, so the used ones form one run from the first table.
    std::vector<int64_t> index_of_ino(inodes_used_ + 1, -1);
    for (size_t i = 0; i < tree_.inodes.size(); ++i)
      index_of_ino[InoOf(i)] = static_cast<int64_t>(i);
    for (uint64_t b = 0; b < used_blocks; b += kBatchBlocks) {
      uint64_t n = std::min<uint64_t>(kBatchBlocks, used_blocks - b);
      batch.assign(n * kBlockSize, 0);
      for (uint64_t slot = 0; slot < n * (kBlockSize / kInodeSize); ++slot) {
        uint64_t ino = b * (kBlockSize / kInodeSize) + slot + 1;
        if (ino > inodes_used_ || index_of_ino[ino] < 0) continue;
        EncodeInode(static_cast<size_t>(index_of_ino[ino]), batch.data() + slot * kInodeSize);
      }
      LODE_RETURN_IF_ERROR(Write(l.inode_tables + b, batch));
    }
    return Status::Ok();
  }

  Status WriteOtherMetadata() {
    for (size_t i = 0; i < plans_.size(); ++i) {
      const FsInode& in = tree_.inodes[i];
      if (IsDir(in)) {
        LODE_RETURN_IF_ERROR(Write(plans_[i].meta_first, dirs_[i].bytes));
      } else if (IsSlowSymlink(in)) {
        std::vector<uint8_t> block(kBlockSize, 0);
        std::copy(in.symlink_target.begin(), in.symlink_target.end(), block.begin());
        LODE_RETURN_IF_ERROR(Write(plans_[i].meta_first, block));
      }
    }
    for (size_t k = 0; k < xattr_blocks_.size(); ++k) {
      SetXattrBlockRefcount(xattr_blocks_[k], xattr_refs_[k]);
      LODE_RETURN_IF_ERROR(Write(xattr_block_first_ + k, xattr_blocks_[k]));
    }
    for (const InodePlan& p : plans_) {
      if (p.tree_blocks == 0) continue;
      EncodedExtentTree t = EncodeExtentTree(p.extents, p.tree_first);
      LODE_RETURN_IF_ERROR(Write(p.tree_first, t.blocks));
    }
    return Status::Ok();
  }

  const FsTree& tree_;
  WriterOptions opt_;
  ImageSink* sink_;
  std::vector<InodePlan> plans_;
  std::vector<DirectoryBlocks> dirs_;
  std::vector<std::array<uint8_t, kInodeXattrSpace>> xattrs_;
  std::vector<std::vector<uint8_t>> xattr_blocks_;
  std::vector<uint32_t> xattr_refs_;
  std::map<std::string, int32_t> xattr_block_ids_;  // block bytes -> index
  uint64_t xattr_block_first_ = 0;
  uint64_t meta_blocks_ = 0;
  Layout layout_;
  uint32_t inodes_used_ = 0;
  std::vector<uint8_t> block_bitmap_, inode_bitmap_;
  std::vector<uint32_t> group_free_blocks_, group_free_inodes_, group_dirs_;
  uint64_t free_blocks_total_ = 0;
  uint32_t free_inodes_total_ = 0;
};

}  // namespace

Result<WriterStats> WriteMetadata(const FsTree& tree, const WriterOptions& options,
                                  ImageSink* sink) {
  if (tree.inodes.size() < 2) return Status::InvalidArgument("tree without root and lost+found");
  Writer writer(tree, options, sink);
  return writer.Run();
}

}  // namespace lode::flatten::ext4
