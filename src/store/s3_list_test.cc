#include <gtest/gtest.h>

#include "store/s3_store.h"

namespace lode::store {
namespace {

TEST(S3ListPageTest, ReadsKeysSizesAndTheNextToken) {
  auto page = ParseListPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>t&amp;1</NextContinuationToken>"
      "<Contents><Key>p/roots/a&lt;b</Key><Size>12</Size></Contents>"
      "<Contents><Key>p/x</Key><Size>0</Size></Contents></ListBucketResult>",
      "p/");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "roots/a<b");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_EQ(page->next_token, "t&1");
}

TEST(S3ListPageTest, SkipsKeysOutsideThePrefixEvenShorterOnes) {
  auto page = ParseListPage("<Contents><Key>a</Key><Size>1</Size></Contents>", "prefix/");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  EXPECT_EQ(page->next_token, "");
}

TEST(S3ListPageTest, RefusesMalformedPages) {
  EXPECT_FALSE(ParseListPage("<Key>a</Key>", "").ok());
  EXPECT_FALSE(ParseListPage("<Key>a</Key><Size>-1</Size>", "").ok());
  EXPECT_FALSE(ParseListPage("<Key>a</Key><Size>99999999999999999999999</Size>", "").ok());
  EXPECT_FALSE(ParseListPage("<IsTruncated>true</IsTruncated>", "").ok());
}

}  // namespace
}  // namespace lode::store
