#include "cache/disk_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"
#include "util/sha256.h"

namespace lode::cache {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

std::vector<uint8_t> Bytes(size_t n, uint8_t fill) { return std::vector<uint8_t>(n, fill); }
std::string NameOf(const std::vector<uint8_t>& b) { return ToHex(Sha256::Of(b)); }

TEST(DiskCacheTest, PutThenGetReturnsTheBytes) {
  ScratchDir dir("lode-l1");
  auto cache = *DiskCache::Open(dir / "l1", 1 << 20);
  auto b = Bytes(1000, 7);
  ASSERT_TRUE(cache->Put(NameOf(b), b).ok());
  auto got = cache->Get(NameOf(b));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, b);
  EXPECT_FALSE(cache->Get(NameOf(Bytes(1, 1)))->has_value());
  EXPECT_EQ(cache->stats().bytes, 1000u);
}

TEST(DiskCacheTest, StaysWithinItsBudgetEvictingOnceReadChunksFirst) {
  ScratchDir dir("lode-l1");
  auto cache = *DiskCache::Open(dir / "l1", 3000);
  auto hot = Bytes(1000, 1);
  ASSERT_TRUE(cache->Put(NameOf(hot), hot).ok());
  ASSERT_TRUE(cache->Get(NameOf(hot))->has_value());  // read twice: hot
  for (uint8_t i = 10; i < 20; ++i) {
    auto cold = Bytes(1000, i);
    ASSERT_TRUE(cache->Put(NameOf(cold), cold).ok());
  }
  DiskCacheStats s = cache->stats();
  EXPECT_LE(s.bytes, 3000u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.evictions, 8u);
  EXPECT_TRUE(cache->Get(NameOf(hot))->has_value());
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "l1")) files += e.is_regular_file();
  EXPECT_EQ(files, 3u);
}

TEST(DiskCacheTest, ReopeningIndexesWhatIsThereAndDropsLeftovers) {
  ScratchDir dir("lode-l1");
  auto a = Bytes(100, 1), b = Bytes(200, 2);
  {
    auto cache = *DiskCache::Open(dir / "l1", 1 << 20);
    ASSERT_TRUE(cache->Put(NameOf(a), a).ok());
    ASSERT_TRUE(cache->Put(NameOf(b), b).ok());
  }
  std::ofstream(dir / ("l1/" + NameOf(a) + ".tmp.abcdef")) << "torn";
  auto cache = *DiskCache::Open(dir / "l1", 1 << 20);
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_EQ(cache->stats().bytes, 300u);
  EXPECT_EQ(**cache->Get(NameOf(b)), b);
  EXPECT_FALSE(fs::exists(dir / ("l1/" + NameOf(a) + ".tmp.abcdef")));
  // A smaller budget at restart evicts down to it.
  auto small = *DiskCache::Open(dir / "l1", 250);
  EXPECT_LE(small->stats().bytes, 250u);
}

TEST(DiskCacheTest, RemoveDropsTheFile) {
  ScratchDir dir("lode-l1");
  auto cache = *DiskCache::Open(dir / "l1", 1 << 20);
  auto a = Bytes(100, 1);
  ASSERT_TRUE(cache->Put(NameOf(a), a).ok());
  cache->Remove(NameOf(a));
  EXPECT_FALSE(cache->Get(NameOf(a))->has_value());
  EXPECT_FALSE(fs::exists(dir / ("l1/" + NameOf(a))));
  EXPECT_FALSE(cache->Put("../escape", a).ok());
}

}  // namespace
}  // namespace lode::cache
