// The ext4 directory-index hash (half-MD4 with the filesystem's seed, names
// read as unsigned bytes), used to order the entries of hashed directories.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace lode::flatten::ext4 {

struct DirHash {
  uint32_t major;  // low bit always clear; the collision bit lives in index entries
  uint32_t minor;
};

DirHash HalfMd4Hash(std::string_view name, const std::array<uint32_t, 4>& seed);

}  // namespace lode::flatten::ext4
