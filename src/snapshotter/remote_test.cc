#include "snapshotter/remote.h"

#include <gtest/gtest.h>

namespace lode::snapshotter {
namespace {

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// An image of layers a, b, c holding the chain of its first `depth`.
ChainMatch Image(const std::string& name, int depth, std::vector<std::string> digests) {
  int layers = static_cast<int>(digests.size());
  return {"t", name, depth, layers, std::move(digests)};
}

TEST(ChooseImageTest, WithoutCriLabelsTheFirstCandidate) {
  EXPECT_FALSE(ChooseImage({}, {}).has_value());
  auto chosen =
      ChooseImage({Image("x", 1, {Digest('a')}), Image("y", 1, {Digest('a'), Digest('b')})}, {});
  EXPECT_EQ(chosen->image, "x");
}

TEST(ChooseImageTest, CriLabelsPickTheImageWhoseUpperLayersArePulled) {
  std::vector<ChainMatch> candidates = {Image("base", 1, {Digest('a')}),
                                        Image("app", 1, {Digest('a'), Digest('b')})};
  // Pulling "app": layer 0's label lists layers 0 and 1.
  auto app = ChooseImage(candidates, {{kImageLayersLabel, Digest('a') + "," + Digest('b')}});
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->image, "app");
  // Pulling "base" itself.
  EXPECT_EQ(ChooseImage(candidates, {{kImageLayersLabel, Digest('a')}})->image, "base");
  // Pulling another image on the same base: not a lode image.
  EXPECT_FALSE(ChooseImage(candidates, {{kImageLayersLabel, Digest('a') + "," + Digest('z')}}));
  // An image whose layer digests were not recorded is not chosen on labels.
  EXPECT_FALSE(ChooseImage({Image("old", 1, {})}, {{kImageLayersLabel, Digest('a')}}));
}

TEST(ChooseImageTest, ALabelCutShortMatchesAsAPrefix) {
  std::vector<std::string> many;
  for (int i = 0; i < 60; ++i)
    many.push_back("sha256:" + std::string(62, 'a') + std::to_string(10 + i));
  std::string label;
  size_t listed = 0;
  const std::string key = kImageLayersLabel;
  while (listed < many.size() && key.size() + label.size() + 72 <= 4096) {
    label += (label.empty() ? "" : ",") + many[listed++];
  }
  ASSERT_LT(listed, many.size());
  EXPECT_TRUE(ChooseImage({Image("big", 1, many)}, {{kImageLayersLabel, label}}).has_value());
  // A short list is not cut: it must match exactly.
  EXPECT_FALSE(ChooseImage({Image("big", 1, many)}, {{kImageLayersLabel, many[0]}}).has_value());
}

}  // namespace
}  // namespace lode::snapshotter
