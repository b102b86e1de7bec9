#include "flatten/ext4/xattr.h"

#include <ext2fs/ext2fs.h>
#include <gtest/gtest.h>

namespace lode::flatten::ext4 {
namespace {

using Xattrs = std::vector<std::pair<std::string, std::string>>;

TEST(XattrTest, SmallAttributesStayInTheInode) {
  auto enc = EncodeXattrs({{"user.a", "1"}, {"security.selinux", "x"}}, "f").value();
  EXPECT_TRUE(enc.has_ibody);
  EXPECT_FALSE(enc.block.has_value());
  EXPECT_EQ(Get32(enc.ibody.data()), kXattrMagic);
}

TEST(XattrTest, LargeAttributesGoToABlockWithLibext2fsHashes) {
  Xattrs x = {
      {"user.big", std::string(1500, 'v')}, {"user.b", "22"}, {"trusted.z", std::string(300, 'z')}};
  auto enc = EncodeXattrs(x, "f").value();
  ASSERT_TRUE(enc.block.has_value());
  std::vector<uint8_t>& block = *enc.block;
  EXPECT_EQ(Get32(block.data()), kXattrMagic);
  // Walk the entries: sorted by (index, name length, name), hashes as e2fsprogs computes.
  size_t off = 32;
  int count = 0;
  std::tuple<int, int, std::string> prev{-1, -1, ""};
  while (Get32(block.data() + off) != 0) {
    auto* entry = reinterpret_cast<ext2_ext_attr_entry*>(block.data() + off);
    std::tuple<int, int, std::string> key{
        entry->e_name_index, entry->e_name_len,
        std::string(reinterpret_cast<char*>(entry + 1), entry->e_name_len)};
    EXPECT_LT(prev, key);
    prev = key;
    EXPECT_EQ(entry->e_hash, ext2fs_ext_attr_hash_entry(entry, block.data() + entry->e_value_offs));
    off += (16 + entry->e_name_len + 3) & ~3u;
    ++count;
  }
  EXPECT_EQ(count + (enc.has_ibody ? 1 : 0), 3);
}

TEST(XattrTest, PosixAclIsConvertedToExt4Format) {
  // VFS format: version 2, entries (tag, perm, id): USER_OBJ rw, USER 1000 r, GROUP_OBJ r, MASK r,
  // OTHER r.
  std::string vfs;
  auto put = [&](uint16_t tag, uint16_t perm, uint32_t id) {
    uint8_t e[8];
    Put16(e, tag);
    Put16(e + 2, perm);
    Put32(e + 4, id);
    vfs.append(reinterpret_cast<char*>(e), 8);
  };
  vfs.assign("\x02\0\0\0", 4);
  put(0x01, 6, 0xffffffff);
  put(0x02, 4, 1000);
  put(0x04, 4, 0xffffffff);
  put(0x10, 4, 0xffffffff);
  put(0x20, 4, 0xffffffff);
  auto enc = EncodeXattrs({{"system.posix_acl_access", vfs}}, "f").value();
  ASSERT_TRUE(enc.has_ibody);
  const uint8_t* entry = enc.ibody.data() + 4;
  EXPECT_EQ(entry[1], 2);                       // name index: posix_acl_access
  EXPECT_EQ(Get32(entry + 8), 4u + 4 * 4 + 8);  // header + four short entries + one with an id
}

TEST(XattrTest, TooMuchIsAnError) {
  Xattrs x = {{"user.a", std::string(3000, 'a')}, {"user.b", std::string(3000, 'b')}};
  EXPECT_EQ(EncodeXattrs(x, "f").status().code(), StatusCode::kInvalidArgument);
}

TEST(XattrTest, UnknownNamespacesAreDropped) {
  auto enc = EncodeXattrs({{"SCHILY.fflags", "x"}}, "f").value();
  EXPECT_FALSE(enc.has_ibody);
  EXPECT_FALSE(enc.block.has_value());
}

}  // namespace
}  // namespace lode::flatten::ext4
