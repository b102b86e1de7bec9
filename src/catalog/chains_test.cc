#include "catalog/chains.h"

#include <gtest/gtest.h>

namespace lode::catalog {
namespace {

TEST(ChainsTest, ChainIdsFollowTheImageSpec) {
  // Worked by hand: sha256("sha256:aa.. sha256:bb..") with sha256sum.
  std::string a = "sha256:" + std::string(64, 'a');
  std::string b = "sha256:" + std::string(64, 'b');
  std::vector<std::string> chain = ChainIds({a, b});
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], a);
  EXPECT_EQ(chain[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  EXPECT_TRUE(ChainIds({}).empty());
  EXPECT_EQ(ChainTag(a), "chain." + std::string(64, 'a'));
}

TEST(ChainsTest, DiffIdsComeFromTheRunConfig) {
  manifest::Manifest m;
  m.image_config = R"({"cmd":["/bin/sh"],"diff_ids":["sha256:1","sha256:2"]})";
  EXPECT_EQ(DiffIdsOf(m), (std::vector<std::string>{"sha256:1", "sha256:2"}));
  m.image_config = R"({"cmd":["/bin/sh"]})";
  EXPECT_TRUE(DiffIdsOf(m).empty());
  m.image_config = R"({"diff_ids":["sha256:1", 7]})";
  EXPECT_TRUE(DiffIdsOf(m).empty());
  m.image_config = "not json";
  EXPECT_TRUE(DiffIdsOf(m).empty());
  m.image_config = R"({"diff_ids":["sha256:1"],"layer_digests":["sha256:9"]})";
  EXPECT_EQ(LayerDigestsOf(m), (std::vector<std::string>{"sha256:9"}));
}

}  // namespace
}  // namespace lode::catalog
