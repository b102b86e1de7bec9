#include "image/image.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/layer_builder.h"
#include "testing/scratch_dir.h"

namespace lode::image {
namespace {

using lode::testing::ImageSpec;
using lode::testing::LayerBuilder;
using lode::testing::ScratchDir;
using lode::testing::TestCompression;
using nlohmann::json;

ImageSpec OneLayer(const std::string& marker) {
  ImageSpec spec;
  spec.layers.push_back(LayerBuilder().File("marker", marker).Finish());
  spec.cmd = {marker};
  return spec;
}

// Rewrites index.json so that it lists the given manifest descriptors.
void SetManifests(const std::string& layout, const json& manifests) {
  std::ofstream(layout + "/index.json")
      << json{{"schemaVersion", 2}, {"manifests", manifests}}.dump();
}

json ManifestDescriptor(const std::string& layout) {
  std::ifstream f(layout + "/index.json");
  return json::parse(f)["manifests"][0];
}

TEST(ImageTest, OpensOciLayoutWithConfigAndDiffIds) {
  ScratchDir dir;
  lode::testing::WriteOciLayout(dir / "oci", OneLayer("a"), TestCompression::kZstd);
  Result<Image> img = OpenImage(dir / "oci", {});
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  ASSERT_EQ(img->layers.size(), 1u);
  EXPECT_EQ(img->layers[0].compression, Compression::kZstd);
  EXPECT_TRUE(img->layers[0].diff_id.has_value());
  EXPECT_EQ(img->run_config.cmd, std::vector<std::string>{"a"});
}

TEST(ImageTest, PicksPlatformAndRef) {
  ScratchDir dir;
  lode::testing::WriteOciLayout(dir / "a", OneLayer("amd"), TestCompression::kGzip);
  lode::testing::WriteOciLayout(dir / "b", OneLayer("arm"), TestCompression::kGzip);
  // Merge b's blobs into a and list both manifests with platforms.
  for (const auto& e : std::filesystem::directory_iterator(dir / "b/blobs/sha256")) {
    std::filesystem::copy(e.path(), dir / "a/blobs/sha256",
                          std::filesystem::copy_options::skip_existing);
  }
  json amd = ManifestDescriptor(dir / "a"), arm = ManifestDescriptor(dir / "b");
  arm["platform"] = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
  arm["annotations"]["org.opencontainers.image.ref.name"] = "other";
  SetManifests(dir / "a", {amd, arm});

  OpenOptions options;
  EXPECT_EQ(OpenImage(dir / "a", options)->run_config.cmd[0], "amd");
  options.platform = ParsePlatform("linux/arm64").value();
  EXPECT_EQ(OpenImage(dir / "a", options)->run_config.cmd[0], "arm");
  options.platform = ParsePlatform("linux/s390x").value();
  EXPECT_EQ(OpenImage(dir / "a", options).status().code(), StatusCode::kNotFound);
  options = {};
  options.ref = "other";
  EXPECT_EQ(OpenImage(dir / "a", options)->run_config.cmd[0], "arm");
  options.ref = "missing";
  EXPECT_EQ(OpenImage(dir / "a", options).status().code(), StatusCode::kNotFound);
}

TEST(ImageTest, SeveralUntaggedImagesWithoutPlatformsNeedRef) {
  ScratchDir dir;
  lode::testing::WriteOciLayout(dir / "a", OneLayer("x"), TestCompression::kGzip);
  json d = ManifestDescriptor(dir / "a");
  d.erase("platform");
  SetManifests(dir / "a", {d, d});
  Result<Image> img = OpenImage(dir / "a", {});
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.status().message().find("--ref"), std::string::npos);
}

TEST(ImageTest, OpensDockerArchive) {
  ScratchDir dir;
  lode::testing::WriteDockerArchive(dir / "img.tar", OneLayer("d"));
  Result<Image> img = OpenImage(dir / "img.tar", {});
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->layers.size(), 1u);
  EXPECT_EQ(img->run_config.cmd[0], "d");
}

TEST(ImageTest, OpensContentAddressedDockerArchiveAndChecksMemberDigests) {
  ScratchDir dir;
  lode::testing::WriteDockerArchive(dir / "img.tar", OneLayer("blobs"),
                                    lode::testing::DockerArchiveStyle::kBlobs);
  Result<Image> img = OpenImage(dir / "img.tar", {});
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  ASSERT_EQ(img->layers.size(), 1u);
  EXPECT_TRUE(img->layers[0].digest.has_value());
  EXPECT_EQ(img->run_config.cmd[0], "blobs");
}

TEST(ImageTest, ParsesPlatforms) {
  EXPECT_EQ(ParsePlatform("linux/arm64/v8")->variant, "v8");
  EXPECT_FALSE(ParsePlatform("linux").ok());
  EXPECT_FALSE(ParsePlatform("/amd64").ok());
}

}  // namespace
}  // namespace lode::image
