#include "sim/claims.h"

#include <gtest/gtest.h>

#include "sim/config.h"

namespace lode::sim {
namespace {

using nlohmann::json;

TEST(ClaimsTest, EachBoundPassesOrFailsOnItsVariantsNumber) {
  Result<std::vector<Claim>> claims = ParseClaims(json::parse(R"([
    {"claim": "near", "variant": "a", "metric": "/tiers/l1", "expect": 0.67, "tolerance": 0.05},
    {"claim": "low", "variant": "a", "metric": "/tiers/origin", "at_most": 0.001},
    {"claim": "high", "variant": "b", "metric": "/hours/1/l2_hit_ratio", "at_least": 0.99},
    {"claim": "missing", "variant": "b", "metric": "/hours/7/l2_hit_ratio", "at_least": 0},
    {"claim": "better", "variant": "a", "compare_to": "b", "metric": "/tiers/l1", "at_least": 0.15},
    {"claim": "l1 over origin", "variant": "a", "metric": "/tiers/l1",
     "compare_metric": "/tiers/origin", "at_least": 0.6},
    {"claim": "a's origin under b's l1", "variant": "a", "metric": "/tiers/origin",
     "compare_to": "b", "compare_metric": "/tiers/l1", "at_most": -0.4}
  ])"),
                                                  {"a", "b"});
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  std::map<std::string, json> results = {
      {"a", json::parse(R"({"tiers": {"l1": 0.70, "origin": 0.002}})")},
      {"b", json::parse(R"({"tiers": {"l1": 0.5}, "hours": [{"l2_hit_ratio": 1},
                                                          {"l2_hit_ratio": 0.995}]})")}};
  json table = CheckClaims(*claims, results);
  ASSERT_EQ(table.size(), 7u);
  EXPECT_TRUE(table[0]["pass"]);
  EXPECT_EQ(table[0]["value"], 0.70);
  EXPECT_FALSE(table[1]["pass"]);
  EXPECT_TRUE(table[2]["pass"]);
  EXPECT_FALSE(table[3]["pass"]);  // no such hour: no value, no pass
  EXPECT_TRUE(table[3]["value"].is_null());
  EXPECT_TRUE(table[4]["pass"]);  // a's L1 share less b's: 0.2
  EXPECT_NEAR(table[4]["value"].get<double>(), 0.2, 1e-9);
  EXPECT_NEAR(table[5]["value"].get<double>(), 0.698, 1e-9);  // the same variant
  EXPECT_TRUE(table[5]["pass"]);
  EXPECT_NEAR(table[6]["value"].get<double>(), -0.498, 1e-9);
  EXPECT_TRUE(table[6]["pass"]);
}

TEST(ClaimsTest, MalformedClaimsNameTheirPlace) {
  for (const char* text : {
           R"([{"metric": "/x", "at_most": 1}])",               // no claim
           R"([{"claim": "c", "metric": "x", "at_most": 1}])",  // not a pointer
           R"([{"claim": "c", "metric": "/x"}])",               // no bound
           R"([{"claim": "c", "metric": "/x", "expect": 1}])",  // no tolerance
           R"([{"claim": "c", "metric": "/x", "at_most": 1, "varient": "a"}])",
           R"([{"claim": "c", "metric": "/x", "at_most": 1, "variant": "z"}])",
           R"([{"claim": "c", "metric": "/x", "at_most": 1, "compare_metric": "y"}])",
       }) {
    Result<std::vector<Claim>> c = ParseClaims(json::parse(text), {""});
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find("claims[0]"), std::string::npos) << c.status().message();
  }
}

TEST(ClaimsTest, VariantsPatchTheBaseAndShareItsTraceUnlessTheyChangeIt) {
  Result<SimSetup> s = ParseSimConfig(R"({
    "workers": 7, "l2": {"nodes": 6, "code": "4+1"}, "trace": {"hours": 5, "functions": 9},
    "variants": [{"name": "one", "l2": {"code": "1+0"}}, {"name": "two", "workers": 3},
                 {"name": "three", "trace": {"hours": 2}}],
    "claims": [{"claim": "c", "variant": "two", "metric": "/tiers/l1", "at_least": 0}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->variants.size(), 3u);
  EXPECT_EQ(s->variants[0].fleet.l2_code.k, 1);
  EXPECT_EQ(s->variants[0].fleet.workers, 7);
  EXPECT_EQ(s->variants[0].fleet.l2_nodes, 6);
  EXPECT_EQ(s->variants[1].fleet.l2_code.k, 4);
  EXPECT_EQ(s->variants[1].fleet.workers, 3);
  EXPECT_EQ(s->variants[0].own_trace, nullptr);
  ASSERT_NE(s->variants[2].own_trace, nullptr);
  EXPECT_EQ(s->variants[2].own_trace->trace.hours, 2);       // patched
  EXPECT_EQ(s->variants[2].own_trace->trace.functions, 9u);  // the base's
  EXPECT_EQ(s->claims.size(), 1u);
  for (const char* bad : {R"({"variants": [{"workers": 3}]})",
                          R"({"variants": [{"name": "a", "trace": {"hours": -2}}]})",
                          R"({"variants": [{"name": "a"}, {"name": "a"}]})",
                          R"({"variants": [{"name": "a", "l2": {"code": "x"}}]})"}) {
    EXPECT_FALSE(ParseSimConfig(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lode::sim
