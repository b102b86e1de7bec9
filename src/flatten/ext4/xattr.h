// Extended attributes in ext4's on-disk format: as many as fit go in the
// inode body (after the extra fields), the rest in one shared-able block.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flatten/ext4/format.h"
#include "util/status.h"

namespace lode::flatten::ext4 {

constexpr uint32_t kInodeXattrOffset = 128 + kExtraInodeSize;
constexpr uint32_t kInodeXattrSpace = kInodeSize - kInodeXattrOffset;

struct EncodedXattrs {
  std::array<uint8_t, kInodeXattrSpace> ibody{};  // all zero when empty
  bool has_ibody = false;
  // A whole xattr block (refcount left 1; the writer sets it when shared).
  std::optional<std::vector<uint8_t>> block;
};

// Encodes Linux xattrs ("user.x", "security.capability", ...). POSIX ACLs
// (system.posix_acl_*) are converted from the VFS format to ext4's. Names in
// namespaces ext4 cannot store are dropped. Too much data is InvalidArgument
// naming `path`.
Result<EncodedXattrs> EncodeXattrs(const std::vector<std::pair<std::string, std::string>>& xattrs,
                                   const std::string& path);

// Sets the reference count of an encoded xattr block.
void SetXattrBlockRefcount(std::vector<uint8_t>& block, uint32_t refcount);

}  // namespace lode::flatten::ext4
