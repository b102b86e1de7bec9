// Entries are sorted by (name index, name length, name): the kernel relies on
// that order when it searches an xattr block. Hashes follow the kernel's
// ext4_xattr_hash_entry (names as unsigned bytes) so e2fsck accepts them.
#include "flatten/ext4/xattr.h"

#include <algorithm>
#include <tuple>

namespace lode::flatten::ext4 {
namespace {

constexpr uint32_t kBlockHeaderSize = 32;
constexpr uint32_t kEntryHeaderSize = 16;

struct Entry {
  uint8_t index;
  std::string suffix;
  std::string value;
  uint32_t Size() const { return kEntryHeaderSize + Pad(static_cast<uint32_t>(suffix.size())); }
  uint32_t ValueSize() const { return Pad(static_cast<uint32_t>(value.size())); }
  static uint32_t Pad(uint32_t n) { return (n + 3) & ~3u; }
};

// Name prefixes ext4 stores as an index. Longer matches are listed first.
constexpr std::pair<const char*, uint8_t> kPrefixes[] = {
    {"system.posix_acl_access", 2},
    {"system.posix_acl_default", 3},
    {"system.richacl", 8},
    {"user.", 1},
    {"trusted.", 4},
    {"security.", 6},
    {"system.", 7},
};

std::optional<std::pair<uint8_t, std::string>> SplitName(const std::string& name) {
  for (const auto& [prefix, index] : kPrefixes) {
    std::string_view p(prefix);
    if (name.rfind(p, 0) == 0) {
      std::string suffix = name.substr(p.size());
      // The ACL names are whole names; anything appended is another attribute.
      if ((index == 2 || index == 3 || index == 8) && !suffix.empty()) continue;
      return std::make_pair(index, suffix);
    }
  }
  return std::nullopt;
}

// VFS ACL xattr (version 2, 8-byte entries) to ext4's (version 1; entries
// without an id are 4 bytes).
Result<std::string> ConvertAcl(const std::string& vfs, const std::string& path) {
  if (vfs.size() < 4 || (vfs.size() - 4) % 8 != 0 ||
      Get32(reinterpret_cast<const uint8_t*>(vfs.data())) != 2) {
    return Status::InvalidArgument(path + ": malformed POSIX ACL xattr");
  }
  std::string out(4, '\0');
  Put32(reinterpret_cast<uint8_t*>(out.data()), 1);
  for (size_t off = 4; off < vfs.size(); off += 8) {
    const auto* e = reinterpret_cast<const uint8_t*>(vfs.data() + off);
    uint16_t tag = Get16(e);
    bool has_id = tag == 0x02 || tag == 0x08;  // ACL_USER, ACL_GROUP
    out.append(reinterpret_cast<const char*>(e), has_id ? 8 : 4);
  }
  return out;
}

uint32_t EntryHash(const Entry& e) {
  uint32_t hash = 0;
  for (unsigned char c : e.suffix) hash = (hash << 5) ^ (hash >> 27) ^ c;
  std::string padded = e.value;
  padded.resize(e.ValueSize(), '\0');
  for (size_t i = 0; i < padded.size(); i += 4) {
    hash = (hash << 16) ^ (hash >> 16) ^ Get32(reinterpret_cast<const uint8_t*>(padded.data() + i));
  }
  return hash;
}

// Writes entries at `entries_at` and values downward from `end`; value
// offsets are relative to `base`. Returns the entry hashes.
std::vector<uint32_t> Place(const std::vector<Entry>& list, uint8_t* base, uint8_t* entries_at,
                            uint8_t* end) {
  std::vector<uint32_t> hashes;
  uint8_t* value_at = end;
  for (const Entry& e : list) {
    value_at -= e.ValueSize();
    std::copy(e.value.begin(), e.value.end(), value_at);
    entries_at[0] = static_cast<uint8_t>(e.suffix.size());
    entries_at[1] = e.index;
    Put16(entries_at + 2, static_cast<uint16_t>(e.value.empty() ? 0 : value_at - base));
    Put32(entries_at + 8, static_cast<uint32_t>(e.value.size()));
    uint32_t hash = EntryHash(e);
    Put32(entries_at + 12, hash);
    hashes.push_back(hash);
    std::copy(e.suffix.begin(), e.suffix.end(), entries_at + kEntryHeaderSize);
    entries_at += e.Size();
  }
  return hashes;
}

uint32_t SpaceNeeded(const std::vector<Entry>& list) {
  uint32_t n = 4;  // the terminating zero word
  for (const Entry& e : list) n += e.Size() + e.ValueSize();
  return n;
}

std::vector<uint8_t> EncodeBlock(const std::vector<Entry>& list) {
  std::vector<uint8_t> block(kBlockSize, 0);
  Put32(block.data(), kXattrMagic);
  Put32(block.data() + 4, 1);  // refcount
  Put32(block.data() + 8, 1);  // blocks
  auto hashes =
      Place(list, block.data(), block.data() + kBlockHeaderSize, block.data() + kBlockSize);
  uint32_t block_hash = 0;
  for (uint32_t h : hashes) block_hash = (block_hash << 16) ^ (block_hash >> 16) ^ h;
  Put32(block.data() + 12, block_hash);
  return block;
}

}  // namespace

Result<EncodedXattrs> EncodeXattrs(const std::vector<std::pair<std::string, std::string>>& xattrs,
                                   const std::string& path) {
  std::vector<Entry> list;
  for (const auto& [name, value] : xattrs) {
    auto split = SplitName(name);
    if (!split) continue;
    Entry e{split->first, split->second, value};
    if (e.index == 2 || e.index == 3) {
      LODE_ASSIGN_OR_RETURN(e.value, ConvertAcl(value, path));
    }
    if (e.suffix.size() > 255)
      return Status::InvalidArgument(path + ": xattr name too long: " + name);
    list.push_back(std::move(e));
  }
  std::sort(list.begin(), list.end(), [](const Entry& a, const Entry& b) {
    return std::tuple(a.index, a.suffix.size(), std::string_view(a.suffix)) <
           std::tuple(b.index, b.suffix.size(), std::string_view(b.suffix));
  });
  // Later duplicates of a name replace earlier ones, as setxattr would.
  list.erase(std::unique(list.begin(), list.end(),
                         [](const Entry& a, const Entry& b) {
                           return a.index == b.index && a.suffix == b.suffix;
                         }),
             list.end());

  EncodedXattrs out;
  std::vector<Entry> in_inode, in_block;
  for (Entry& e : list) {
    std::vector<Entry> trial = in_inode;
    trial.push_back(e);
    if (in_block.empty() && SpaceNeeded(trial) + 4 <= kInodeXattrSpace) {
      in_inode = std::move(trial);
    } else {
      in_block.push_back(std::move(e));
    }
  }
  if (!in_inode.empty()) {
    out.has_ibody = true;
    Put32(out.ibody.data(), kXattrMagic);
    uint8_t* first = out.ibody.data() + 4;
    Place(in_inode, first, first, out.ibody.data() + out.ibody.size());
  }
  if (!in_block.empty()) {
    if (SpaceNeeded(in_block) > kBlockSize - kBlockHeaderSize) {
      return Status::InvalidArgument(path + ": extended attributes exceed one 4 KiB block");
    }
    out.block = EncodeBlock(in_block);
  }
  return out;
}

void SetXattrBlockRefcount(std::vector<uint8_t>& block, uint32_t refcount) {
  Put32(block.data() + 4, refcount);
}

}  // namespace lode::flatten::ext4
