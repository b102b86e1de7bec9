#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "keys/key_service.h"
#include "testing/scratch_dir.h"

namespace lode::keys {
namespace {

TEST(LocalKeyServiceTest, CreatesTenantsWithPrivateFiles) {
  lode::testing::ScratchDir dir;
  std::string keys = dir / "keys";
  auto service = OpenLocalKeyService(keys).value();
  PublicKey pub = service->CreateTenant("acme").value();
  EXPECT_EQ(service->TenantPublicKey("acme").value(), pub);
  EXPECT_EQ(service->ListTenants().value(), std::vector<std::string>{"acme"});
  EXPECT_FALSE(service->CreateTenant("acme").ok());
  struct stat st;
  ASSERT_EQ(::stat((keys + "/tenants/acme.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(LocalKeyServiceTest, PublicOnlyCopyCannotOpen) {
  lode::testing::ScratchDir dir;
  auto service = OpenLocalKeyService(dir / "keys").value();
  service->CreateTenant("acme").value();
  std::filesystem::remove(dir / "keys/tenants/acme.key");
  EXPECT_TRUE(service->TenantPublicKey("acme").ok());
  std::vector<uint8_t> sealed(200, 1);
  EXPECT_EQ(service->OpenDataKey({SealedKind::kFunction, "acme", "f", sealed}).status().code(),
            StatusCode::kNotFound);
}

TEST(LocalKeyServiceTest, SaltsAreStablePerIdAndDistinctAcrossIds) {
  lode::testing::ScratchDir dir;
  auto service = OpenLocalKeyService(dir / "keys").value();
  Salt a = service->GetOrCreateSalt({"root-1", "default", 0}).value();
  EXPECT_EQ(service->GetOrCreateSalt({"root-1", "default", 0}).value(), a);
  EXPECT_NE(service->GetOrCreateSalt({"root-1", "default", 1}).value(), a);
  EXPECT_NE(service->GetOrCreateSalt({"root-1", "popular", 0}).value(), a);
}

TEST(LocalKeyServiceTest, RotationMovesToAFreshSalt) {
  lode::testing::ScratchDir dir;
  auto service = OpenLocalKeyService(dir / "keys").value();
  EXPECT_EQ(service->CurrentSaltEpoch("root-1", "default").value(), 0u);
  Salt first = service->GetOrCreateSalt({"root-1", "default", 0}).value();
  EXPECT_EQ(service->RotateSalt("root-1", "default").value(), 1u);
  EXPECT_EQ(service->CurrentSaltEpoch("root-1", "default").value(), 1u);
  EXPECT_NE(service->GetOrCreateSalt({"root-1", "default", 1}).value(), first);
  EXPECT_EQ(service->GetOrCreateSalt({"root-1", "default", 0}).value(), first);  // old salts stay
  EXPECT_EQ(service->CurrentSaltEpoch("root-1", "other").value(), 0u);
  EXPECT_EQ(service->RotateSalt("root-1", "../x").status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalKeyServiceTest, RejectsLooseDirectoriesAndBadNames) {
  lode::testing::ScratchDir dir;
  std::string keys = dir / "keys";
  ASSERT_TRUE(OpenLocalKeyService(keys).ok());
  ::chmod(keys.c_str(), 0755);
  EXPECT_EQ(OpenLocalKeyService(keys).status().code(), StatusCode::kRejected);
  ::chmod(keys.c_str(), 0700);
  auto service = OpenLocalKeyService(keys).value();
  for (const char* bad : {"", "../x", "UPPER", "a/b", ".hidden"}) {
    EXPECT_EQ(service->CreateTenant(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(service->TenantPublicKey("nobody").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lode::keys
