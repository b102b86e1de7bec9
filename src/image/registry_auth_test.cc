#include "image/registry_auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "image/reference.h"
#include "testing/scratch_dir.h"
#include "util/base64.h"
#include "util/text.h"

namespace lode::image {
namespace {

using nlohmann::json;

TEST(ReferenceTest, NormalizesDockerHubNames) {
  RegistryReference r = *ParseRegistryReference("debian");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/debian");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(r.ToString(), "docker://docker.io/library/debian:latest");
  EXPECT_EQ(ParseRegistryReference("bitnami/redis:7")->repository, "bitnami/redis");
  EXPECT_EQ(ParseRegistryReference("index.docker.io/library/debian")->registry, "docker.io");
}

TEST(ReferenceTest, TakesHostsPortsTagsAndDigests) {
  std::string digest = "sha256:" + std::string(64, 'a');
  RegistryReference r = *ParseRegistryReference("127.0.0.1:5000/team/app:v1.2@" + digest);
  EXPECT_EQ(r.registry, "127.0.0.1:5000");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "v1.2");
  EXPECT_EQ(r.ManifestReference(), digest);
  RegistryReference local = *ParseRegistryReference("localhost/app");
  EXPECT_EQ(local.registry, "localhost");
  EXPECT_EQ(local.repository, "app");  // no library/ outside Docker Hub
  EXPECT_EQ(ParseRegistryReference("ghcr.io/o/r@" + digest)->tag, "");
  EXPECT_EQ(ParseRegistryReference("[::1]:5000/app")->registry, "[::1]:5000");
}

TEST(ReferenceTest, RefusesMalformedNames) {
  for (const char* bad :
       {"Debian", "host:5000/app:", "app:bad/tag", "a//b", "app@sha256:12", "-app",
        "app:"
        "tag with space",
        "bad_host!/x"}) {
    EXPECT_FALSE(ParseRegistryReference(bad).ok()) << bad;
  }
}

TEST(ReferenceTest, ParsesTransports) {
  EXPECT_EQ(ParseImageReference("docker://debian:12")->transport, Transport::kRegistry);
  ImageReference oci = *ParseImageReference("oci:/images/app:v2");
  EXPECT_EQ(oci.transport, Transport::kOciLayout);
  EXPECT_EQ(oci.path, "/images/app");
  EXPECT_EQ(oci.ref, "v2");
  ImageReference archive = *ParseImageReference("docker-archive:/tmp/app.tar");
  EXPECT_EQ(archive.transport, Transport::kDockerArchive);
  EXPECT_EQ(archive.path, "/tmp/app.tar");
  EXPECT_EQ(ParseImageReference("./layout")->transport, Transport::kPath);
  EXPECT_FALSE(ParseImageReference("docker:debian").ok());
  EXPECT_FALSE(ParseImageReference("oci:").ok());
}

TEST(ReferenceTest, KnowsLoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("localhost:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("registry.example.com"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1:5000"));
}

TEST(ChallengeTest, ParsesSeveralChallengesWithQuotedCommas) {
  auto c = ParseChallenges(
      {"Basic realm=\"quay.io\", Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\","
       "scope=\"repository:a/b:pull,push repository:c:pull\"",
       "bearer Realm=unquoted, error=\"invalid_token\""});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].Param("realm"), "quay.io");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].Param("service"), "quay.io");
  EXPECT_EQ(c[1].Param("scope"), "repository:a/b:pull,push repository:c:pull");
  EXPECT_EQ(c[2].Param("realm"), "unquoted");
  EXPECT_EQ(c[2].Param("error"), "invalid_token");
  EXPECT_TRUE(ParseChallenges({""}).empty());
  EXPECT_TRUE(ParseChallenges({"=,,\"\""}).empty());
}

// Test setup: a HOME with containers and docker credential files; the
// environment is pointed at it for each case and restored after.
class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG"}) {
      const char* v = std::getenv(name);
      saved_.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
      ::unsetenv(name);
    }
    ::setenv("HOME", dir_.path().c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void Write(const std::string& relative, const json& doc) {
    std::string path = dir_ / relative;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << doc.dump();
  }
  static json Auth(const std::string& user_pass) { return {{"auth", Base64Encode(user_pass)}}; }

  testing::ScratchDir dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(CredentialsTest, ContainersFilesComeBeforeDockers) {
  Write(".docker/config.json", {{"auths", {{"https://index.docker.io/v1/", Auth("d:1")}}}});
  EXPECT_EQ((*FindCredentials("docker.io", "library/x", ""))->username, "d");
  Write(".config/containers/auth.json", {{"auths", {{"docker.io", Auth("c:2")}}}});
  auto found = *FindCredentials("docker.io", "library/x", "");
  EXPECT_EQ(found->username, "c");
  EXPECT_EQ(found->password, "2");
  ::setenv("REGISTRY_AUTH_FILE", (dir_ / "explicit.json").c_str(), 1);
  Write("explicit.json", {{"auths", {{"docker.io", Auth("e:3")}}}});
  EXPECT_EQ((*FindCredentials("docker.io", "library/x", ""))->username, "e");
  EXPECT_FALSE(*FindCredentials("ghcr.io", "o/r", ""));
}

TEST_F(CredentialsTest, MostSpecificRepositoryKeyWins) {
  Write("a.json", {{"auths",
                    {{"reg.example:5000", Auth("host:1")},
                     {"reg.example:5000/team", Auth("team:2")},
                     {"reg.example:5000/team/app", Auth("app:3")}}}});
  std::string file = dir_ / "a.json";
  EXPECT_EQ((*FindCredentials("reg.example:5000", "team/app", file))->username, "app");
  EXPECT_EQ((*FindCredentials("reg.example:5000", "team/other", file))->username, "team");
  EXPECT_EQ((*FindCredentials("reg.example:5000", "teamx/app", file))->username, "host");
}

TEST_F(CredentialsTest, IdentityTokensAndBrokenEntries) {
  Write("t.json", {{"auths", {{"r.example", {{"identitytoken", "refresh-me"}}}}}});
  auto found = *FindCredentials("r.example", "x", dir_ / "t.json");
  EXPECT_EQ(found->identity_token, "refresh-me");
  Write("bad.json", {{"auths", {{"r.example", {{"auth", "bm9jb2xvbg=="}}}}}});  // "nocolon"
  Result<std::optional<RegistryCredentials>> bad =
      FindCredentials("r.example", "x", dir_ / "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("nocolon"), std::string::npos);
  EXPECT_FALSE(FindCredentials("r.example", "x", dir_ / "missing.json").ok());
}

TEST_F(CredentialsTest, HelpersAnswerForTheirHosts) {
  std::string bin = dir_ / "bin";
  std::filesystem::create_directories(bin);
  std::ofstream(bin + "/docker-credential-good")
      << "#!/bin/sh\nread host\n"
      << "echo \"{\\\"Username\\\":\\\"h\\\",\\\"Secret\\\":\\\"for-$host\\\"}\"\n";
  std::ofstream(bin + "/docker-credential-empty") << "#!/bin/sh\necho not found; exit 1\n";
  for (const char* h : {"good", "empty"}) {
    std::filesystem::permissions(bin + "/docker-credential-" + h,
                                 std::filesystem::perms::owner_all);
  }
  std::string path = std::getenv("PATH");
  ::setenv("PATH", (bin + ":" + path).c_str(), 1);
  Write(".docker/config.json", {{"credHelpers", {{"r.example", "good"}}}, {"credsStore", "empty"}});
  auto found = *FindCredentials("r.example", "x", "");
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->password, "for-r.example");
  ::setenv("PATH", (bin + ":" + path).c_str(), 1);
  EXPECT_FALSE(*FindCredentials("other.example", "x", ""));  // credsStore has nothing
  ::setenv("PATH", path.c_str(), 1);
}

TEST(CredentialsFlagTest, SplitsAtTheFirstColon) {
  RegistryCredentials c = *ParseCredentialsFlag("user:pa:ss");
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(c.password, "pa:ss");
  EXPECT_FALSE(ParseCredentialsFlag("nopassword").ok());
  EXPECT_FALSE(ParseCredentialsFlag(":x").ok());
}

}  // namespace
}  // namespace lode::image
