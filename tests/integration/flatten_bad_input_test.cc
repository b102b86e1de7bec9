// Bad input to `lode flatten`: each case must end with one clear line on the
// terminal, a non-zero exit, and no output file (nor temporary) left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/files.h"
#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

ImageSpec SmallImage() {
  ImageSpec spec;
  LayerBuilder base;
  base.Dir("etc").File("etc/a", std::string(100000, 'a')).File("etc/b", "b");
  spec.layers.push_back(base.Finish());
  LayerBuilder top;
  top.File("etc/c", "c");
  spec.layers.push_back(top.Finish());
  return spec;
}

class FlattenBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_ / "out"); }

  std::string Layout(TestCompression c = TestCompression::kGzip) {
    std::string path = dir_ / "layout";
    WriteOciLayout(path, SmallImage(), c);
    return path;
  }

  json Index(const std::string& layout) { return json::parse(ReadAll(layout + "/index.json")); }
  std::string BlobPath(const std::string& layout, const std::string& digest) {
    return layout + "/blobs/sha256/" + digest.substr(7);
  }
  json Manifest(const std::string& layout) {
    return json::parse(ReadAll(BlobPath(layout, Index(layout)["manifests"][0]["digest"])));
  }
  // Stores an edited manifest under its new digest and points index.json at it.
  void ReplaceManifest(const std::string& layout, const json& manifest) {
    std::string text = manifest.dump();
    std::string hex = Sha256Hex(text);
    WriteAll(layout + "/blobs/sha256/" + hex, text);
    json index = Index(layout);
    index["manifests"][0]["digest"] = "sha256:" + hex;
    index["manifests"][0]["size"] = text.size();
    WriteAll(layout + "/index.json", index.dump());
  }

  // Runs flatten and checks the failure contract; returns the error line.
  std::string ExpectFailure(const std::string& input_args) {
    std::string out = dir_ / "out/image.ext4";
    CommandResult r =
        RunCommand(LodeBinary() + " flatten " + input_args + " -o " + ShellQuote(out));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("lode: ", 0), 0u) << r.output;
    EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "output left behind";
    return r.output;
  }

  ScratchDir dir_{"lode-bad-input"};
};

TEST_F(FlattenBadInputTest, CorruptGzipLayer) {
  std::string gz = Compress(SmallImage().layers[0], TestCompression::kGzip);
  for (size_t i = 40; i < 60; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  WriteAll(dir_ / "bad.tar.gz", gz);
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "bad.tar.gz"));
  EXPECT_NE(err.find("gzip"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, TruncatedGzipLayer) {
  std::string gz = Compress(SmallImage().layers[0], TestCompression::kGzip);
  WriteAll(dir_ / "short.tar.gz", gz.substr(0, gz.size() / 2));
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "short.tar.gz"));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, TruncatedTar) {
  std::string tar = SmallImage().layers[0];
  WriteAll(dir_ / "short.tar", tar.substr(0, 50000));
  ExpectFailure("--layer " + ShellQuote(dir_ / "short.tar"));
}

TEST_F(FlattenBadInputTest, LayerDigestMismatch) {
  std::string layout = Layout();
  std::string blob = BlobPath(layout, Manifest(layout)["layers"][1]["digest"]);
  std::string data = ReadAll(blob);
  data[data.size() / 2] = static_cast<char>(data[data.size() / 2] ^ 1);
  WriteAll(blob, data);
  std::string err = ExpectFailure(ShellQuote(layout));
  EXPECT_NE(err.find("digest mismatch"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, UncompressedDigestMismatchAgainstConfig) {
  std::string layout = Layout(TestCompression::kNone);
  json m = Manifest(layout);
  // A different, well-formed layer under a correct blob digest: only the
  // config's diff_id can tell.
  std::string other = LayerBuilder().File("x", "y").Finish();
  std::string hex = Sha256Hex(other);
  WriteAll(layout + "/blobs/sha256/" + hex, other);
  m["layers"][1]["digest"] = "sha256:" + hex;
  m["layers"][1]["size"] = other.size();
  ReplaceManifest(layout, m);
  std::string err = ExpectFailure(ShellQuote(layout));
  EXPECT_NE(err.find("digest mismatch"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, BrokenIndexJson) {
  std::string layout = Layout();
  WriteAll(layout + "/index.json", "{\"manifests\": [ {");
  std::string err = ExpectFailure(ShellQuote(layout));
  EXPECT_NE(err.find("JSON"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, UnknownLayerMediaType) {
  std::string layout = Layout();
  json m = Manifest(layout);
  m["layers"][0]["mediaType"] = "application/vnd.example.squashfs";
  ReplaceManifest(layout, m);
  std::string err = ExpectFailure(ShellQuote(layout));
  EXPECT_NE(err.find("media type"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, MissingBlob) {
  std::string layout = Layout();
  fs::remove(BlobPath(layout, Manifest(layout)["layers"][0]["digest"]));
  std::string err = ExpectFailure(ShellQuote(layout));
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, PathEscapingTheRoot) {
  WriteAll(dir_ / "evil.tar", LayerBuilder().File("a/../../escape", "x").Finish());
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "evil.tar"));
  EXPECT_NE(err.find("escapes"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, HardlinkTargetOutsideTheRoot) {
  WriteAll(dir_ / "evil.tar",
           LayerBuilder().File("a", "x").Hardlink("b", "../../etc/passwd").Finish());
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "evil.tar"));
  EXPECT_NE(err.find("escapes"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, HardlinkToNothing) {
  WriteAll(dir_ / "dangling.tar", LayerBuilder().File("a", "x").Hardlink("b", "missing").Finish());
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "dangling.tar"));
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
}

// Input limits (flatten/limits.h): each one refuses with one line naming it.
TEST_F(FlattenBadInputTest, PathsTooLongTooDeepOrWithTooLongNames) {
  std::string deep;
  for (int i = 0; i < 1025; ++i) deep += "d/";
  struct Case {
    std::string path, expected;
  } cases[] = {{std::string(5000, 'p'), "path of 5000 bytes (the limit is 4096)"},
               {"etc/" + std::string(256, 'n'), "file name of 256 bytes (ext4 allows 255)"},
               {deep + "f", "path 1026 directories deep (the limit is 1024)"}};
  for (const Case& c : cases) {
    WriteAll(dir_ / "layer.tar", LayerBuilder().File(c.path, "x").Finish());
    std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "layer.tar"));
    EXPECT_NE(err.find(c.expected), std::string::npos) << err;
    EXPECT_LT(err.size(), 600u) << "the path is quoted in full";
  }
}

TEST_F(FlattenBadInputTest, ExtendedAttributesBeyondWhatExt4Holds) {
  EntryMeta meta;
  meta.xattrs = {{"user.big", std::string(9000, 'v')}};
  WriteAll(dir_ / "layer.tar", LayerBuilder().File("f", "x", meta).Finish());
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "layer.tar"));
  EXPECT_NE(err.find("extended attributes of 9008 bytes (the limit is 8192 per file)"),
            std::string::npos)
      << err;
}

TEST_F(FlattenBadInputTest, TooManyLayers) {
  WriteAll(dir_ / "layer.tar", LayerBuilder().File("f", "x").Finish());
  std::string args;
  for (int i = 0; i < 257; ++i) args += " --layer " + ShellQuote(dir_ / "layer.tar");
  std::string err = ExpectFailure(args);
  EXPECT_NE(err.find("the image has 257 layers (the limit is 256)"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, LayersExpandingPastTheSizeLimitAreABomb) {
  // 3 MiB of zeros stored in a few KiB of gzip, against a 2 MiB limit: the
  // second file would cross it; the message gives the expansion ratio.
  std::string zeros(1536 * 1024, '\0');
  WriteAll(dir_ / "bomb.tar.gz", Compress(LayerBuilder().File("a", zeros).File("b", zeros).Finish(),
                                          TestCompression::kGzip));
  std::string err = ExpectFailure("--max-size 2MiB --layer " + ShellQuote(dir_ / "bomb.tar.gz"));
  EXPECT_NE(err.find("b (1.5 MiB): the layers uncompress to more than 2.0 MiB (--max-size)"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("x)"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, NamesWithControlCharactersStayOnOneLine) {
  WriteAll(dir_ / "evil.tar",
           LayerBuilder().File("a\nlode: fake second line/../../x", "x").Finish());
  std::string err = ExpectFailure("--layer " + ShellQuote(dir_ / "evil.tar"));
  EXPECT_NE(err.find("a\\x0alode: fake"), std::string::npos) << err;
}

TEST_F(FlattenBadInputTest, NotAnImage) {
  WriteAll(dir_ / "junk", "this is not an image");
  ExpectFailure(ShellQuote(dir_ / "junk"));
  ExpectFailure(ShellQuote(dir_ / "does-not-exist"));
}

}  // namespace
}  // namespace lode::testing
