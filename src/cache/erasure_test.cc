#include "cache/erasure.h"

#include <gtest/gtest.h>

#include <random>

namespace lode::cache {
namespace {

std::vector<uint8_t> RandomChunk(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Every way of losing m of the k + m stripes still decodes.
void ExpectEveryKOfKPlusMDecodes(const ErasureCode& code, size_t chunk_size) {
  std::vector<uint8_t> chunk = RandomChunk(chunk_size, 11);
  auto stripes = EncodeStripes(chunk, "name", code);
  ASSERT_EQ(static_cast<int>(stripes.size()), code.total());
  int n = code.total(), combos = 0;
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) != code.k) continue;
    std::vector<std::optional<std::vector<uint8_t>>> got(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      if (mask & (1u << i)) got[static_cast<size_t>(i)] = stripes[static_cast<size_t>(i)];
    }
    auto decoded = DecodeStripes(got, "name", code);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString() << " mask " << mask;
    EXPECT_EQ(*decoded, chunk) << "mask " << mask;
    ++combos;
  }
  EXPECT_GT(combos, 0);
}

TEST(ErasureTest, AnyFourOfFourPlusOneDecode) { ExpectEveryKOfKPlusMDecodes({4, 1}, 512 << 10); }
TEST(ErasureTest, AnyFourOfFourPlusTwoDecode) { ExpectEveryKOfKPlusMDecodes({4, 2}, 512 << 10); }
TEST(ErasureTest, OddSizesDecode) {
  ExpectEveryKOfKPlusMDecodes({4, 2}, 1);
  ExpectEveryKOfKPlusMDecodes({3, 2}, 100003);
}

TEST(ErasureTest, BadOrMisplacedStripesAreIgnored) {
  ErasureCode code{4, 2};
  std::vector<uint8_t> chunk = RandomChunk(70000, 3);
  auto stripes = EncodeStripes(chunk, "name", code);
  std::vector<std::optional<std::vector<uint8_t>>> got(stripes.begin(), stripes.end());
  (*got[1])[100] ^= 1;  // damaged payload
  got[2] = stripes[3];  // stripe 3 served for 2
  auto decoded = DecodeStripes(got, "name", code);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, chunk);
  EXPECT_FALSE(StripeIsValid(*got[1], "name", 1, code));
  EXPECT_FALSE(StripeIsValid(stripes[0], "other-chunk", 0, code));
  (*got[4])[60] ^= 1;  // now only 3 good stripes: 0, 3, 5
  EXPECT_EQ(DecodeStripes(got, "name", code).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lode::cache
