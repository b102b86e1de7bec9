#include <gtest/gtest.h>

#include "store/layout.h"
#include "store/object_store.h"
#include "testing/scratch_dir.h"

namespace lode::store {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(DirStoreTest, PutGetExistsListDelete) {
  lode::testing::ScratchDir dir;
  auto store = OpenStore("dir://" + dir.path() + "/store").value();
  ASSERT_TRUE(store->Put("root-1/chunks/ab", Bytes("chunk")).ok());
  ASSERT_TRUE(store->Put("root-1/manifests/m1", Bytes("manifest")).ok());
  ASSERT_TRUE(store->Put("refs/tenant/app", Bytes("ref")).ok());
  auto got = store->Get("root-1/chunks/ab").value();
  EXPECT_EQ(std::string(got.begin(), got.end()), "chunk");
  EXPECT_TRUE(store->Exists("root-1/chunks/ab").value());
  EXPECT_FALSE(store->Exists("root-1/chunks/cd").value());
  EXPECT_EQ(store->Get("root-1/chunks/cd").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->List("root-1/").value(),
            (std::vector<std::string>{"root-1/chunks/ab", "root-1/manifests/m1"}));
  EXPECT_EQ(store->List("root-1/chunks/a").value(), std::vector<std::string>{"root-1/chunks/ab"});
  EXPECT_TRUE(store->List("nothing/").value().empty());
  ASSERT_TRUE(store->Delete("root-1/chunks/ab").ok());
  EXPECT_TRUE(store->Delete("root-1/chunks/ab").ok());
  EXPECT_FALSE(store->Exists("root-1/chunks/ab").value());
}

TEST(DirStoreTest, PutReplacesAtomically) {
  lode::testing::ScratchDir dir;
  auto store = OpenStore("dir://" + dir.path()).value();
  ASSERT_TRUE(store->Put("k", Bytes("one")).ok());
  ASSERT_TRUE(store->Put("k", Bytes("two")).ok());
  auto got = store->Get("k").value();
  EXPECT_EQ(std::string(got.begin(), got.end()), "two");
  EXPECT_EQ(store->List("").value(), std::vector<std::string>{"k"});  // no temporaries left
}

TEST(DirStoreTest, RejectsBadKeysAndSchemes) {
  lode::testing::ScratchDir dir;
  auto store = OpenStore("dir://" + dir.path()).value();
  for (const char* key : {"", "/abs", "a/../b", "a//b", "..", "a/b/", "sp ace", "x.tmp.y"}) {
    EXPECT_EQ(store->Put(key, Bytes("x")).code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(OpenStore("ftp://host/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("dir://").status().code(), StatusCode::kInvalidArgument);
}

TEST(LayoutTest, ImageRefsRoundTripAndRejectGarbage) {
  std::string id(64, 'a');
  ImageRef ref = ParseImageRef("root-0/" + id).value();
  EXPECT_EQ(ref.root, "root-0");
  EXPECT_EQ(ref.ToString(), "root-0/" + id);
  EXPECT_TRUE(ValidateKey(ManifestKey(ref.root, ref.manifest_id)).ok());
  for (std::string bad : {std::string("root-0"), "root-0/" + id.substr(1), "../x/" + id, "/" + id,
                          "a/b/" + id, "root-0/" + std::string(64, 'G')}) {
    EXPECT_FALSE(ParseImageRef(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lode::store
