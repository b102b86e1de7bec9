#include "manifest/manifest.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace lode::manifest {
namespace {

Manifest Sample() {
  Manifest m;
  m.fs_size = 3 * 512 * 1024 + 100;
  m.chunk_size = 512 * 1024;
  m.config_digest.fill(7);
  m.salt_id = "root-1.default.0";
  m.root_id = "root-1";
  m.image_config = R"({"cmd":["/bin/sh"]})";
  m.chunks.resize(4);
  m.chunks[0].name.fill(1);
  m.chunks[0].key.fill(2);
  m.chunks[0].stored_length = 1000;
  m.chunks[0].flags = kCompressed;
  m.chunks[1].flags = kHole;
  m.chunks[2].name.fill(3);
  m.chunks[3].name.fill(4);
  return m;
}

struct Tenant {
  keys::KeyPair keys;
  Tenant() {
    if (sodium_init() < 0) std::abort();
    crypto_box_keypair(keys.public_key.data(), keys.secret_key.data());
  }
  // As a reader opens a manifest: its data key from the key service, then the body.
  Result<Manifest> Open(std::span<const uint8_t> sealed) const {
    LODE_ASSIGN_OR_RETURN(
        keys::DataKey key,
        keys::UnsealDataKey(
            {keys::SealedKind::kManifest, "t", "root-1/" + ManifestId(sealed), sealed}, keys));
    return manifest::Open(sealed, key);
  }
};

TEST(ManifestTest, EncodeDecodeRoundTrip) {
  Manifest m = Sample();
  Manifest back = Decode(Encode(m)).value();
  EXPECT_EQ(back.fs_size, m.fs_size);
  EXPECT_EQ(back.salt_id, m.salt_id);
  EXPECT_EQ(back.image_config, m.image_config);
  ASSERT_EQ(back.chunks.size(), 4u);
  EXPECT_EQ(back.chunks[0].name, m.chunks[0].name);
  EXPECT_EQ(back.chunks[0].stored_length, 1000u);
  EXPECT_TRUE(back.chunks[1].hole());
}

TEST(ManifestTest, DecodeRejectsTruncationAndInconsistency) {
  std::vector<uint8_t> bytes = Encode(Sample());
  EXPECT_FALSE(Decode(std::span(bytes).first(bytes.size() - 1)).ok());
  Manifest wrong = Sample();
  wrong.chunks.pop_back();
  EXPECT_FALSE(Decode(Encode(wrong)).ok());
}

TEST(ManifestTest, OnlyTheTenantCanOpen) {
  Tenant a, b;
  std::vector<uint8_t> sealed = Seal(Sample(), a.keys.public_key);
  EXPECT_EQ(a.Open(sealed)->root_id, "root-1");
  EXPECT_EQ(b.Open(sealed).status().code(), StatusCode::kCorruption);
  Tenant zero = a;
  zero.keys.secret_key.fill(0);
  EXPECT_EQ(zero.Open(sealed).status().code(), StatusCode::kCorruption);
  keys::DataKey wrong{};
  EXPECT_EQ(Open(sealed, wrong).status().code(), StatusCode::kCorruption);
}

TEST(ManifestTest, AnyFlippedByteIsDetected) {
  Tenant a;
  std::vector<uint8_t> sealed = Seal(Sample(), a.keys.public_key);
  keys::DataKey key = *keys::UnsealDataKey(
      {keys::SealedKind::kManifest, "t", "root-1/" + ManifestId(sealed), sealed}, a.keys);
  for (size_t i = 0; i < sealed.size(); i += 37) {
    std::vector<uint8_t> t = sealed;
    t[i] ^= 0x10;
    EXPECT_EQ(a.Open(t).status().code(), StatusCode::kCorruption) << "byte " << i;
    // Even with the right data key in hand, the body's tag catches it.
    EXPECT_EQ(Open(t, key).status().code(), StatusCode::kCorruption) << "byte " << i;
  }
}

TEST(ManifestTest, SealingTwiceGivesDifferentObjects) {
  Tenant a;
  EXPECT_NE(ManifestId(Seal(Sample(), a.keys.public_key)),
            ManifestId(Seal(Sample(), a.keys.public_key)));
}

}  // namespace
}  // namespace lode::manifest
