#include "catalog/profile.h"

#include <gtest/gtest.h>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "testing/scratch_dir.h"

namespace lode::catalog {
namespace {

TEST(ProfileTest, EncodesAndDecodes) {
  StartupProfile p{{7, 0, 3}};
  std::vector<uint8_t> bytes = EncodeProfile(p);
  EXPECT_EQ(DecodeProfile(bytes, 8)->chunks, p.chunks);
  EXPECT_FALSE(DecodeProfile(bytes, 7).ok());  // chunk 7 beyond a 7-chunk image
  bytes[0] ^= 1;
  EXPECT_FALSE(DecodeProfile(bytes, 8).ok());
  EXPECT_FALSE(DecodeProfile(EncodeProfile({{1, 1}}), 8).ok());  // twice
  std::vector<uint8_t> cut = EncodeProfile(p);
  cut.pop_back();
  EXPECT_FALSE(DecodeProfile(cut, 8).ok());
  EXPECT_TRUE(DecodeProfile(EncodeProfile({}), 1)->chunks.empty());
}

TEST(ProfileTest, MergeKeepsEachChunkAtItsEarliestPosition) {
  StartupProfile older{{10, 11, 12, 13}};
  StartupProfile newer{{12, 20, 10, 21}};
  // positions: 10->0, 12->0 (newer), 11->1, 20->1, 13->3, 21->3; ties: first seen first
  EXPECT_EQ(MergeProfiles(older, newer).chunks, (std::vector<uint32_t>{10, 12, 11, 20, 13, 21}));
  EXPECT_EQ(MergeProfiles(older, older).chunks, older.chunks);
  EXPECT_EQ(MergeProfiles({}, newer).chunks, newer.chunks);
  StartupProfile big;
  for (uint32_t i = 0; i < kMaxProfileChunks + 10; ++i) big.chunks.push_back(i);
  EXPECT_EQ(MergeProfiles({}, big).chunks.size(), kMaxProfileChunks);
}

// Test setup: a dir:// store and a local key service with two tenants.
TEST(ProfileTest, SealedToTheTenant) {
  testing::ScratchDir dir;
  auto store = store::OpenStore("dir://" + dir / "store");
  auto keys = keys::OpenLocalKeyService(dir / "keys");
  ASSERT_TRUE(store.ok() && keys.ok());
  ASSERT_TRUE((*keys)->CreateTenant("a").ok());
  ASSERT_TRUE((*keys)->CreateTenant("b").ok());
  store::ImageRef ref{"root-0", std::string(64, 'c')};
  EXPECT_FALSE(*GetProfile(**store, ref, 100, **keys, "a"));  // none yet
  ASSERT_TRUE(PutProfile(**store, ref, {{5, 6}}, **keys, "a").ok());
  EXPECT_EQ((*GetProfile(**store, ref, 100, **keys, "a"))->chunks, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(GetProfile(**store, ref, 100, **keys, "b").status().code(), StatusCode::kCorruption);
  // A profile does not open as a manifest, nor as another image's profile.
  std::vector<uint8_t> sealed = *(*store)->Get(store::ProfileKey(ref.root, ref.manifest_id));
  EXPECT_EQ((*keys)
                ->OpenDataKey({keys::SealedKind::kManifest, "a",
                               "root-0/" + manifest::ManifestId(sealed), sealed})
                .status()
                .code(),
            StatusCode::kCorruption);
  store::ImageRef other{"root-0", std::string(64, 'd')};
  ASSERT_TRUE((*store)->Put(store::ProfileKey(other.root, other.manifest_id), sealed).ok());
  EXPECT_EQ(GetProfile(**store, other, 100, **keys, "a").status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace lode::catalog
