#include "image/byte_source.h"

#include <gtest/gtest.h>

#include "testing/layer_builder.h"
#include "testing/memory_source.h"

namespace lode::image {
namespace {

using lode::testing::Compress;
using lode::testing::MemorySource;
using lode::testing::ReadAllFrom;
using lode::testing::TestCompression;

std::string Text(size_t n) {
  std::string s;
  while (s.size() < n) s += "line " + std::to_string(s.size()) + " of some compressible text\n";
  s.resize(n);
  return s;
}

Result<std::string> Decompress(const std::string& data, Compression c) {
  auto src = NewDecompressor(std::make_unique<MemorySource>(data, 777), c, "test");
  return ReadAllFrom(*src);
}

TEST(HashingSourceTest, PassesMatchingContent) {
  std::string data = Text(10000);
  Digest want{Sha256::Of(data)};
  HashingSource h(std::make_unique<MemorySource>(data), "blob", want, data.size());
  EXPECT_EQ(ReadAllFrom(h).value(), data);
  EXPECT_FALSE(h.mismatched());
}

TEST(HashingSourceTest, ReportsDigestMismatchAtTheEnd) {
  std::string data = Text(10000);
  Digest want{Sha256::Of(data + "x")};
  HashingSource h(std::make_unique<MemorySource>(data), "blob", want, std::nullopt);
  Result<std::string> r = ReadAllFrom(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("digest mismatch"), std::string::npos);
  EXPECT_TRUE(h.mismatched());
}

TEST(HashingSourceTest, ReportsSizeMismatch) {
  std::string data = Text(100);
  HashingSource shorter(std::make_unique<MemorySource>(data), "blob", std::nullopt, 101);
  EXPECT_FALSE(ReadAllFrom(shorter).ok());
  HashingSource longer(std::make_unique<MemorySource>(data), "blob", std::nullopt, 99);
  EXPECT_FALSE(ReadAllFrom(longer).ok());
}

TEST(DigestTest, ParsesOnlyWellFormedSha256) {
  std::string hex(64, 'a');
  EXPECT_TRUE(ParseDigest("sha256:" + hex).ok());
  EXPECT_FALSE(ParseDigest("sha512:" + hex).ok());
  EXPECT_FALSE(ParseDigest("sha256:" + hex.substr(1)).ok());
  EXPECT_FALSE(ParseDigest("sha256:../../../../etc/passwd" + std::string(36, 'a')).ok());
}

TEST(DecompressTest, GzipRoundTripsIncludingMultipleMembers) {
  std::string a = Text(300000), b = Text(5000);
  EXPECT_EQ(Decompress(Compress(a, TestCompression::kGzip), Compression::kGzip).value(), a);
  std::string two = Compress(a, TestCompression::kGzip) + Compress(b, TestCompression::kGzip);
  EXPECT_EQ(Decompress(two, Compression::kGzip).value(), a + b);
  EXPECT_EQ(
      Decompress(Compress(a, TestCompression::kGzip) + std::string(100, '\0'), Compression::kGzip)
          .value(),
      a);
}

TEST(DecompressTest, GzipErrorsAreCorruption) {
  std::string gz = Compress(Text(300000), TestCompression::kGzip);
  EXPECT_EQ(Decompress(gz.substr(0, gz.size() / 2), Compression::kGzip).status().code(),
            StatusCode::kCorruption);
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 1;
  EXPECT_EQ(Decompress(bad_crc, Compression::kGzip).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(Decompress(gz + "garbage", Compression::kGzip).ok());
  EXPECT_FALSE(Decompress("", Compression::kGzip).ok());
}

TEST(DecompressTest, ZstdRoundTripsAndDetectsTruncation) {
  std::string a = Text(400000), b = Text(10);
  std::string z = Compress(a, TestCompression::kZstd);
  EXPECT_EQ(Decompress(z, Compression::kZstd).value(), a);
  EXPECT_EQ(Decompress(z + Compress(b, TestCompression::kZstd), Compression::kZstd).value(), a + b);
  EXPECT_EQ(Decompress(z.substr(0, z.size() - 3), Compression::kZstd).status().code(),
            StatusCode::kCorruption);
}

TEST(DecompressTest, AutoSniffsEachFormat) {
  std::string a = Text(50000);
  EXPECT_EQ(Decompress(Compress(a, TestCompression::kGzip), Compression::kAuto).value(), a);
  EXPECT_EQ(Decompress(Compress(a, TestCompression::kZstd), Compression::kAuto).value(), a);
  EXPECT_EQ(Decompress(a, Compression::kAuto).value(), a);
  EXPECT_EQ(Decompress("ab", Compression::kAuto).value(), "ab");
}

}  // namespace
}  // namespace lode::image
