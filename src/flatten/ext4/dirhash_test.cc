// The oracle is libext2fs's own implementation of the same hash.
#include "flatten/ext4/dirhash.h"

#include <ext2fs/ext2fs.h>
#include <gtest/gtest.h>

#include <random>

namespace lode::flatten::ext4 {
namespace {

TEST(DirHashTest, MatchesLibext2fsForManyNamesAndSeeds) {
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::array<uint32_t, 4> seed{};
    if (round % 3 != 0) {
      for (auto& s : seed) s = static_cast<uint32_t>(rng());
    }
    size_t len = 1 + rng() % 255;
    std::string name(len, '\0');
    for (char& c : name) c = static_cast<char>(1 + rng() % 255);  // includes bytes >= 0x80
    ext2_dirhash_t want_major = 0, want_minor = 0;
    ASSERT_EQ(ext2fs_dirhash(EXT2_HASH_HALF_MD4_UNSIGNED, name.data(),
                             static_cast<int>(name.size()), seed.data(), &want_major, &want_minor),
              0);
    DirHash got = HalfMd4Hash(name, seed);
    ASSERT_EQ(got.major, want_major) << "round " << round << " len " << len;
    ASSERT_EQ(got.minor, want_minor) << "round " << round;
  }
}

}  // namespace
}  // namespace lode::flatten::ext4
