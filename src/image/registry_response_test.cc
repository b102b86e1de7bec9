#include "image/registry_response.h"

#include <gtest/gtest.h>

namespace lode::image {
namespace {

TEST(TokenAnswerTest, TakesTheTokenAndBoundsItsLifetime) {
  auto t = ParseTokenAnswer(R"({"access_token":"a","expires_in":300})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->token, "a");
  EXPECT_EQ(t->lifetime_seconds, 300);
  // A huge or negative lifetime must not overflow the expiry time.
  EXPECT_EQ(ParseTokenAnswer(R"({"token":"a","expires_in":9223372036854775807})")->lifetime_seconds,
            86400);
  EXPECT_EQ(ParseTokenAnswer(R"({"token":"a","expires_in":-5})")->lifetime_seconds, 60);
  EXPECT_FALSE(ParseTokenAnswer(R"({"token":7})"));
  EXPECT_FALSE(ParseTokenAnswer("not json"));
}

TEST(ManifestAnswerTest, ChecksTheDigestAndRefusesSchema1) {
  http::Response r;
  r.status = 200;
  r.body = "{}";
  r.headers = {{"content-type", "application/vnd.oci.image.manifest.v1+json; charset=x"}};
  auto m = ReadManifestAnswer(r, "latest");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->media_type, "application/vnd.oci.image.manifest.v1+json");
  r.headers.emplace_back("docker-content-digest", "sha256:0\nforged");
  auto forged = ReadManifestAnswer(r, "latest");
  EXPECT_EQ(forged.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(forged.status().message().find('\n'), std::string::npos);
  r.headers = {{"content-type", "application/json"}};
  r.body = R"({"schemaVersion":1})";
  EXPECT_EQ(ReadManifestAnswer(r, "latest").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadManifestAnswer(r, "sha256:" + std::string(64, '0')).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RegistryErrorTest, FirstErrorOnOneLine) {
  EXPECT_EQ(RegistryErrorOf(R"({"errors":[{"code":"DENIED","message":"no\nway"}]})"),
            "DENIED: no\\x0away");
  EXPECT_EQ(RegistryErrorOf(R"({"errors":[]})"), "");
  EXPECT_EQ(RegistryErrorOf("<html>"), "");
}

}  // namespace
}  // namespace lode::image
