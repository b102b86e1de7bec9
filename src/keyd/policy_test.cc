#include "keyd/policy.h"

#include <gtest/gtest.h>

namespace lode::keyd {
namespace {

TEST(PolicyTest, TheMostSpecificPrincipalWins) {
  Policy p = *Policy::Parse(R"({"principals": [
    {"name": "by-uid", "uid": 0, "roles": ["worker"]},
    {"name": "by-both", "uid": 0, "gid": 7, "roles": ["admin"]},
    {"name": "by-gid", "gid": 9, "roles": ["pusher"]},
    {"name": "tls", "certificate": "CN=w", "roles": ["worker"]}]})",
                            "test");
  EXPECT_EQ(p.Find({0, 0, 1, ""})->name, "by-uid");
  EXPECT_EQ(p.Find({0, 7, 1, ""})->name, "by-both");
  EXPECT_EQ(p.Find({5, 9, 1, ""})->name, "by-gid");
  EXPECT_EQ(p.Find({5, 5, 1, ""}), nullptr);
  // A TLS caller is its certificate, whatever uid the socket's owner has.
  EXPECT_EQ(p.Find({0, 0, 0, "CN=w"})->name, "tls");
  EXPECT_EQ(p.Find({0, 0, 0, "CN=other"}), nullptr);
  EXPECT_TRUE(p.Find({0, 7, 1, ""})->Has(Role::kAdmin));
  EXPECT_FALSE(p.Find({0, 7, 1, ""})->Has(Role::kWorker));
}

TEST(PolicyTest, MalformedPoliciesAreRefusedWithTheReason) {
  auto reason = [](const std::string& text) {
    Result<Policy> p = Policy::Parse(text, "policy.json");
    EXPECT_FALSE(p.ok()) << text;
    return p.ok() ? "" : p.status().message();
  };
  EXPECT_NE(reason("[]").find("principals"), std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "uid": 1, "roles": ["root"]}]})")
                .find("unknown role 'root'"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "roles": ["admin"]}]})").find("no uid"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "uid": 1, "roles": []},
                                      {"name": "a", "uid": 2, "roles": []}]})")
                .find("appears twice"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "uid": 1, "roles": []},
                                      {"name": "b", "uid": 1, "roles": []}]})")
                .find("same caller"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "uid": 1, "certificate": "CN=a",
                                       "roles": []}]})")
                .find("one of them"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a b", "uid": 1, "roles": []}]})")
                .find("bad principal name"),
            std::string::npos);
  EXPECT_NE(reason(R"({"principals": [{"name": "a", "uid": "x", "roles": []}]})").find("malformed"),
            std::string::npos);
}

}  // namespace
}  // namespace lode::keyd
