// Hashed directory layout (no metadata_csum, so no tail entries):
//   block 0: "." and ".." (whose rec_len spans the block), dx_root_info,
//            then count/limit and (hash, block) index entries;
//   blocks 1..n: leaves, filled in (hash, name) order;
//   blocks n+1..: index nodes when the root cannot point at every leaf.
// An index entry whose leaf starts with the same hash the previous leaf ends
// with carries the collision bit (hash | 1), as the kernel writes it.
#include "flatten/ext4/directory.h"

#include <algorithm>
#include <cstddef>
#include <tuple>

#include "flatten/ext4/dirhash.h"
#include "flatten/ext4/format.h"

namespace lode::flatten::ext4 {
namespace {

constexpr uint32_t kRootLimit = (kBlockSize - 32) / 8;
constexpr uint32_t kNodeLimit = (kBlockSize - 8) / 8;

uint32_t RecLen(size_t name_len) { return (8 + static_cast<uint32_t>(name_len) + 3) & ~3u; }

// Appends dirents into 4 KiB blocks; the last entry of a block absorbs its slack.
class BlockFiller {
 public:
  explicit BlockFiller(std::vector<uint8_t>* out) : out_(out) {}

  // Starts a new block if the entry does not fit; returns true if it did.
  bool Add(std::string_view name, uint32_t ino, uint8_t type) {
    uint32_t len = RecLen(name.size());
    bool new_block = block_start_ == kNone || used_ + len > kBlockSize;
    if (new_block) Open();
    uint8_t* p = out_->data() + block_start_ + used_;
    Put32(p, ino);
    Put16(p + 4, static_cast<uint16_t>(len));
    p[6] = static_cast<uint8_t>(name.size());
    p[7] = type;
    std::copy(name.begin(), name.end(), p + 8);
    last_ = block_start_ + used_;
    used_ += len;
    return new_block;
  }

  void Open() {
    Close();
    block_start_ = out_->size();
    out_->resize(out_->size() + kBlockSize, 0);
    used_ = 0;
    last_ = kNone;
  }

  void Close() {
    if (block_start_ == kNone) return;
    if (last_ == kNone) {
      Put16(out_->data() + block_start_ + 4, kBlockSize);  // an empty block: one unused dirent
    } else {
      Put16(out_->data() + last_ + 4, static_cast<uint16_t>(block_start_ + kBlockSize - last_));
    }
    block_start_ = kNone;
  }

 private:
  static constexpr size_t kNone = ~size_t{0};
  std::vector<uint8_t>* out_;
  size_t block_start_ = kNone;
  size_t used_ = 0;
  size_t last_ = kNone;
};

struct Hashed {
  DirHash hash;
  const DirEntryRef* entry;
};

struct Leaf {
  uint32_t first_hash;
  bool continues;  // first hash equals the previous leaf's last hash
};

void WriteIndexEntries(uint8_t* at, uint32_t limit,
                       const std::vector<std::pair<uint32_t, uint32_t>>& entries) {
  Put16(at, static_cast<uint16_t>(limit));
  Put16(at + 2, static_cast<uint16_t>(entries.size()));
  Put32(at + 4, entries[0].second);
  for (size_t i = 1; i < entries.size(); ++i) {
    Put32(at + 8 * i, entries[i].first);
    Put32(at + 8 * i + 4, entries[i].second);
  }
}

Result<DirectoryBlocks> BuildHashed(const std::vector<DirEntryRef>& entries, uint32_t self,
                                    uint32_t parent, const std::array<uint32_t, 4>& seed) {
  std::vector<Hashed> sorted;
  sorted.reserve(entries.size());
  for (const DirEntryRef& e : entries) sorted.push_back({HalfMd4Hash(*e.name, seed), &e});
  std::sort(sorted.begin(), sorted.end(), [](const Hashed& a, const Hashed& b) {
    return std::tie(a.hash.major, a.hash.minor, *a.entry->name) <
           std::tie(b.hash.major, b.hash.minor, *b.entry->name);
  });

  DirectoryBlocks out;
  out.hashed = true;
  out.bytes.resize(kBlockSize, 0);  // the root, filled in below
  std::vector<Leaf> leaves;
  BlockFiller filler(&out.bytes);
  uint32_t prev_hash = 0;
  for (const Hashed& h : sorted) {
    if (filler.Add(*h.entry->name, h.entry->ino, h.entry->file_type)) {
      leaves.push_back({h.hash.major, !leaves.empty() && h.hash.major == prev_hash});
    }
    prev_hash = h.hash.major;
  }
  filler.Close();

  // Index entries point at leaves (logical blocks 1..n); entry 0 has no hash.
  std::vector<std::pair<uint32_t, uint32_t>> leaf_refs;
  for (size_t i = 0; i < leaves.size(); ++i) {
    leaf_refs.push_back(
        {leaves[i].first_hash | (leaves[i].continues ? 1u : 0u), static_cast<uint32_t>(i + 1)});
  }
  uint8_t levels = 0;
  std::vector<std::pair<uint32_t, uint32_t>> root_refs = leaf_refs;
  if (leaf_refs.size() > kRootLimit) {
    levels = 1;
    root_refs.clear();
    for (size_t start = 0; start < leaf_refs.size(); start += kNodeLimit) {
      size_t end = std::min(leaf_refs.size(), start + kNodeLimit);
      std::vector<std::pair<uint32_t, uint32_t>> slice(
          leaf_refs.begin() + static_cast<ptrdiff_t>(start),
          leaf_refs.begin() + static_cast<ptrdiff_t>(end));
      uint32_t node_block = static_cast<uint32_t>(out.bytes.size() / kBlockSize);
      root_refs.push_back({slice[0].first, node_block});
      out.bytes.resize(out.bytes.size() + kBlockSize, 0);
      uint8_t* node = out.bytes.data() + node_block * size_t{kBlockSize};
      Put16(node + 4, kBlockSize);  // a fake empty dirent spanning the block
      WriteIndexEntries(node + 8, kNodeLimit, slice);
    }
    if (root_refs.size() > kRootLimit) {
      return Status::InvalidArgument("directory with " + std::to_string(entries.size()) +
                                     " entries is too large for a two-level index");
    }
  }

  uint8_t* root = out.bytes.data();
  Put32(root, self);
  Put16(root + 4, 12);
  root[6] = 1;
  root[7] = kFtDirectory;
  root[8] = '.';
  Put32(root + 12, parent);
  Put16(root + 16, kBlockSize - 12);
  root[18] = 2;
  root[19] = kFtDirectory;
  root[20] = '.';
  root[21] = '.';
  root[28] = kHashHalfMd4;  // dx_root_info: reserved(4) hash_version info_length levels flags
  root[29] = 8;
  root[30] = levels;
  WriteIndexEntries(root + 32, kRootLimit, root_refs);
  return out;
}

}  // namespace

uint32_t DirectoryBlocks::BlockCount() const {
  return static_cast<uint32_t>(bytes.size() / kBlockSize);
}

Result<DirectoryBlocks> BuildDirectory(const std::vector<DirEntryRef>& entries, uint32_t self,
                                       uint32_t parent, const std::array<uint32_t, 4>& hash_seed,
                                       uint32_t min_blocks) {
  uint32_t linear = RecLen(1) + RecLen(2);
  for (const DirEntryRef& e : entries) linear += RecLen(e.name->size());
  if (linear > kBlockSize) return BuildHashed(entries, self, parent, hash_seed);

  DirectoryBlocks out;
  BlockFiller filler(&out.bytes);
  filler.Add(".", self, kFtDirectory);
  filler.Add("..", parent, kFtDirectory);
  for (const DirEntryRef& e : entries) filler.Add(*e.name, e.ino, e.file_type);
  while (out.BlockCount() < min_blocks) filler.Open();
  filler.Close();
  return out;
}

}  // namespace lode::flatten::ext4
