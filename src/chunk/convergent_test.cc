#include "chunk/convergent.h"

#include <gtest/gtest.h>

#include <random>

namespace lode::chunk {
namespace {

std::vector<uint8_t> Data(size_t n, uint32_t seed, bool compressible) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = compressible ? static_cast<uint8_t>("lode chunk "[i % 11]) : static_cast<uint8_t>(rng());
  if (compressible) v[n / 2] = static_cast<uint8_t>(seed);
  return v;
}

Salt SaltOf(uint8_t b) {
  Salt s;
  s.fill(b);
  return s;
}

TEST(ConvergentTest, SameChunkAndSaltGiveTheSameObject) {
  auto p = Data(512 * 1024, 1, false);
  SealedChunk a = Seal(p, SaltOf(1), {}), b = Seal(p, SaltOf(1), {});
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.stored, b.stored);
  EXPECT_FALSE(a.compressed);  // random data does not shrink
}

TEST(ConvergentTest, DifferentSaltGivesADifferentObject) {
  auto p = Data(4096, 2, true);
  EXPECT_NE(Seal(p, SaltOf(1), {}).name, Seal(p, SaltOf(2), {}).name);
}

TEST(ConvergentTest, ResealEqualsSealingThePlaintextUnderTheNewSalt) {
  for (bool compressible : {true, false}) {
    for (bool compress : {true, false}) {
      auto p = Data(512 * 1024, 9, compressible);
      SealedChunk old = Seal(p, SaltOf(1), {.compress = compress});
      Result<SealedChunk> moved = Reseal(old.stored, old.name, old.key, old.compressed, SaltOf(2));
      ASSERT_TRUE(moved.ok()) << moved.status().ToString();
      SealedChunk fresh = Seal(p, SaltOf(2), {.compress = compress});
      EXPECT_EQ(moved->name, fresh.name);
      EXPECT_EQ(moved->key, fresh.key);
      EXPECT_EQ(moved->stored, fresh.stored);
      EXPECT_EQ(moved->compressed, fresh.compressed);
      old.stored[10] ^= 1;
      EXPECT_EQ(Reseal(old.stored, old.name, old.key, old.compressed, SaltOf(2)).status().code(),
                StatusCode::kCorruption);
    }
  }
}

TEST(ConvergentTest, RoundTripsCompressedAndPlain) {
  for (bool compressible : {true, false}) {
    auto p = Data(512 * 1024, 3, compressible);
    SealedChunk s = Seal(p, SaltOf(7), {});
    EXPECT_EQ(s.compressed, compressible);
    auto back = Open(s.stored, s.name, s.key, s.compressed, p.size());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, p);
  }
}

TEST(ConvergentTest, CiphertextDoesNotContainThePlaintext) {
  auto p = Data(4096, 4, true);
  SealedChunk s = Seal(p, SaltOf(1), {.compress = false});
  std::string stored(s.stored.begin(), s.stored.end());
  EXPECT_EQ(stored.find("lode chunk lode chunk"), std::string::npos);
}

TEST(ConvergentTest, TamperingAndWrongKeysAreCorruption) {
  auto p = Data(65536, 5, true);
  SealedChunk s = Seal(p, SaltOf(1), {});
  std::vector<uint8_t> flipped = s.stored;
  flipped[10] ^= 1;
  EXPECT_EQ(Open(flipped, s.name, s.key, s.compressed, p.size()).status().code(),
            StatusCode::kCorruption);
  // Bytes that match a (forged) name still fail the GCM tag under the key.
  SealedChunk other = Seal(Data(65536, 6, true), SaltOf(1), {});
  EXPECT_EQ(Open(other.stored, other.name, s.key, s.compressed, p.size()).status().code(),
            StatusCode::kCorruption);
  ChunkKey wrong = s.key;
  wrong[0] ^= 1;
  EXPECT_EQ(Open(s.stored, s.name, wrong, s.compressed, p.size()).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Open(s.stored, s.name, s.key, s.compressed, p.size() + 1).status().code(),
            StatusCode::kCorruption);
}

TEST(ConvergentTest, NameHexIsLowerCaseSha256Hex) {
  SealedChunk s = Seal(Data(100, 8, false), SaltOf(1), {});
  std::string hex = NameHex(s.name);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ConvergentTest, ZeroDetection) {
  std::vector<uint8_t> z(512 * 1024 + 3, 0);
  EXPECT_TRUE(IsZero(z));
  z.back() = 1;
  EXPECT_FALSE(IsZero(z));
}

}  // namespace
}  // namespace lode::chunk
