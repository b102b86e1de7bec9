#include "keys/envelope.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "util/sha256.h"

namespace lode::keys {
namespace {

KeyPair NewKeys() {
  if (sodium_init() < 0) std::abort();
  KeyPair k;
  crypto_box_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

// An envelope with an empty body: all a key service looks at.
std::vector<uint8_t> Sealed(SealedKind kind, const std::string& subject, const DataKey& key,
                            const KeyPair& tenant) {
  EnvelopeIv iv{};
  return SealEnvelopeHeader(kind, subject, key, iv, tenant.public_key);
}

TEST(EnvelopeTest, ProfilesAndFunctionsOpenOnlyAsTheSubjectTheyWereSealedFor) {
  KeyPair tenant = NewKeys();
  DataKey key;
  key.fill(9);
  for (SealedKind kind : {SealedKind::kProfile, SealedKind::kFunction}) {
    std::vector<uint8_t> sealed = Sealed(kind, "root-0/abc", key, tenant);
    EXPECT_EQ(*UnsealDataKey({kind, "t", "root-0/abc", sealed}, tenant), key);
    EXPECT_EQ(UnsealDataKey({kind, "t", "root-0/abd", sealed}, tenant).status().code(),
              StatusCode::kCorruption);
    EXPECT_EQ(UnsealDataKey({kind, "t", "root-0/ab", sealed}, tenant).status().code(),
              StatusCode::kCorruption);
    EXPECT_EQ(UnsealDataKey({kind, "t", "root-0/abc", sealed}, NewKeys()).status().code(),
              StatusCode::kCorruption);
  }
  // One kind is never opened as another.
  std::vector<uint8_t> profile = Sealed(SealedKind::kProfile, "x", key, tenant);
  EXPECT_FALSE(UnsealDataKey({SealedKind::kFunction, "t", "x", profile}, tenant).ok());
}

TEST(EnvelopeTest, AManifestIsCheckedAgainstItsIdByHashing) {
  KeyPair tenant = NewKeys();
  DataKey key;
  key.fill(3);
  std::vector<uint8_t> sealed = Sealed(SealedKind::kManifest, "", key, tenant);
  std::string id = ToHex(Sha256::Of(sealed));
  EXPECT_EQ(*UnsealDataKey({SealedKind::kManifest, "t", "root-0/" + id, sealed}, tenant), key);
  std::string other = std::string(64, '0');
  Status wrong =
      UnsealDataKey({SealedKind::kManifest, "t", "root-0/" + other, sealed}, tenant).status();
  EXPECT_EQ(wrong.code(), StatusCode::kCorruption);
  EXPECT_NE(wrong.message().find("another manifest"), std::string::npos) << wrong.message();
}

TEST(EnvelopeTest, TruncatedOrForeignBytesAreRefusedWithoutCrashing) {
  KeyPair tenant = NewKeys();
  DataKey key{};
  std::vector<uint8_t> sealed = Sealed(SealedKind::kFunction, "f", key, tenant);
  for (size_t n = 0; n < sealed.size(); ++n) {
    std::span<const uint8_t> cut(sealed.data(), n);
    EXPECT_FALSE(UnsealDataKey({SealedKind::kFunction, "t", "f", cut}, tenant).ok()) << n;
  }
  std::vector<uint8_t> box_too_short = sealed;
  box_too_short[12] = 10;
  box_too_short[13] = 0;
  EXPECT_FALSE(UnsealDataKey({SealedKind::kFunction, "t", "f", box_too_short}, tenant).ok());
  EXPECT_EQ(UnsealDataKey({SealedKind::kFunction, "t", "", sealed}, tenant).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(EnvelopeTest, KindsHaveNames) {
  for (SealedKind kind : {SealedKind::kManifest, SealedKind::kProfile, SealedKind::kFunction}) {
    EXPECT_EQ(*ParseSealedKind(SealedKindName(kind)), kind);
  }
  EXPECT_FALSE(ParseSealedKind("chunk").ok());
}

}  // namespace
}  // namespace lode::keys
