#include "keyd/grants.h"

#include <gtest/gtest.h>

#include "testing/scratch_dir.h"
#include "util/file.h"

namespace lode::keyd {
namespace {

Grant Of(const std::string& worker, const std::string& image, int64_t expires = 0) {
  Grant g;
  g.tenant = "acme";
  g.worker = worker;
  g.image = image;
  g.label = "app";
  g.expires = expires;
  return g;
}

keys::SealedObject Manifest(const std::string& image) {
  return {keys::SealedKind::kManifest, "acme", image, {}};
}

TEST(GrantTableTest, GrantsAreKeptPerWorkerTenantAndImageAndSurviveARestart) {
  testing::ScratchDir dir;
  std::string path = dir / "grants.json";
  {
    auto table = *GrantTable::Open(path);
    ASSERT_TRUE(table->Add(Of("w1", "root-0/a")).ok());
    ASSERT_TRUE(table->Add(Of("w1", "root-0/a", 50)).ok());  // renews, does not add
    EXPECT_EQ(table->List().size(), 1u);
  }
  auto table = *GrantTable::Open(path);
  EXPECT_TRUE(table->Allowing("w1", Manifest("root-0/a"), 49));
  EXPECT_FALSE(table->Allowing("w1", Manifest("root-0/a"), 50));  // expired
  EXPECT_FALSE(table->Allowing("w2", Manifest("root-0/a"), 0));
  EXPECT_FALSE(table->Allowing("w1", Manifest("root-0/b"), 0));
  keys::SealedObject other_tenant = Manifest("root-0/a");
  other_tenant.tenant = "globex";
  EXPECT_FALSE(table->Allowing("w1", other_tenant, 0));
  // A profile of the image is covered; a function only by a function grant.
  EXPECT_TRUE(table->Allowing("w1", {keys::SealedKind::kProfile, "acme", "root-0/a", {}}, 0));
  EXPECT_FALSE(table->Allowing("w1", {keys::SealedKind::kFunction, "acme", "app", {}}, 0));
}

TEST(GrantTableTest, RevokeByImageOrLabelAndFollowMigrations) {
  testing::ScratchDir dir;
  auto table = *GrantTable::Open(dir / "grants.json");
  Grant fn = Of("w1", "root-0/a");
  fn.function = "hello";
  ASSERT_TRUE(table->Add(fn).ok());
  ASSERT_TRUE(table->Add(Of("w2", "root-0/a")).ok());
  EXPECT_EQ(*table->Follow("acme", "root-0/a", "root-1/c"), 2);
  EXPECT_TRUE(table->Allowing("w2", Manifest("root-1/c"), 0));
  EXPECT_TRUE(table->Allowing("w1", {keys::SealedKind::kFunction, "acme", "hello", {}}, 0));
  EXPECT_EQ(*table->Follow("acme", "root-0/a", "root-1/c"), 2);  // again: no duplicates
  EXPECT_EQ(table->List().size(), 4u);
  // The tag moved since: revoking by what was asked for still finds them.
  EXPECT_EQ(*table->Revoke("acme", "w2", "", "app"), 2);
  EXPECT_FALSE(table->Allowing("w2", Manifest("root-1/c"), 0));
  EXPECT_EQ(*table->Revoke("acme", "w2", "root-0/a", ""), 0);
}

TEST(GrantTableTest, ValidateRefusesBadNames) {
  EXPECT_TRUE(ValidateGrant(Of("w1", "root-0/abc")).ok());
  EXPECT_FALSE(ValidateGrant(Of("w 1", "root-0/abc")).ok());
  EXPECT_FALSE(ValidateGrant(Of("w1", "abc")).ok());
  EXPECT_FALSE(ValidateGrant(Of("w1", "a/b/c")).ok());
  Grant bad_tenant = Of("w1", "root-0/a");
  bad_tenant.tenant = "Acme";
  EXPECT_FALSE(ValidateGrant(bad_tenant).ok());
}

TEST(GrantTableTest, AFileThatIsNotKeydsIsCorruption) {
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "grants.json", "[1]").ok());
  EXPECT_EQ(GrantTable::Open(dir / "grants.json").status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace lode::keyd
