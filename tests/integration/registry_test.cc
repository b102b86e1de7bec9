// Registry input against real registries: Debian's docker-registry
// (distribution 2.8) in every auth mode, filled by skopeo.
//
// Test setup: scripts/registry.sh is started once for the suite: plain HTTP,
// HTTPS with a self-signed CA and bcrypt htpasswd, token auth with a token
// server, htpasswd with blobs redirected to a host that rejects
// Authorization, and tampering proxies in front of the plain and token
// registries, all over one storage directory. The test writes small images
// as OCI layouts and copies them in with skopeo (OCI manifest, Docker schema
// 2, an OCI index and a Docker manifest list of two platforms, schema 1).
// Oracle: `lode flatten` of the local OCI layout. Flattening is deterministic,
// so every registry path must give the same bytes; stores are checked for
// manifests and tags left behind by failures.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/registry_servers.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Incompressible bytes, so a layer blob is large enough to cut mid-transfer.
std::string NoiseBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  for (char& c : out) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

ImageSpec SmallImage(const std::string& marker) {
  ImageSpec spec;
  spec.layers.push_back(LayerBuilder()
                            .Dir("etc")
                            .File("etc/os-release", "ID=lode-test\n")
                            .File("base.bin", NoiseBytes(3 << 20, 7))
                            .Finish());
  spec.layers.push_back(LayerBuilder().File("app/data.bin", NoiseBytes(1 << 20, 11)).Finish());
  spec.layers.push_back(
      LayerBuilder().File("app/marker", marker).Whiteout("etc/os-release").Finish());
  spec.entrypoint = {"/app/run"};
  spec.cmd = {marker};
  return spec;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Merges two single-image layouts into one whose index (tag "multi") lists
// them as linux/amd64 and linux/arm64.
void WriteMultiPlatformLayout(const std::string& dir, const std::string& amd,
                              const std::string& arm) {
  fs::create_directories(dir + "/blobs/sha256");
  json manifests = json::array();
  for (const auto& [layout, arch] : {std::pair(amd, "amd64"), std::pair(arm, "arm64")}) {
    for (const auto& e : fs::directory_iterator(layout + "/blobs/sha256")) {
      fs::copy(e.path(), dir + "/blobs/sha256", fs::copy_options::skip_existing);
    }
    json d = json::parse(ReadFile(layout + "/index.json"))["manifests"][0];
    d.erase("annotations");
    d["platform"] = {{"os", "linux"}, {"architecture", arch}};
    manifests.push_back(d);
  }
  std::string index = json{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       manifests}}.dump();
  std::string digest = Sha256Hex(index);
  std::ofstream(dir + "/blobs/sha256/" + digest) << index;
  std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  std::ofstream(dir + "/index.json")
      << json{{"schemaVersion", 2},
              {"manifests",
               {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                 {"digest", "sha256:" + digest},
                 {"size", index.size()},
                 {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}}}}}
             .dump();
}

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-registry");
    servers_ = new RegistryServers(*dir_ / "fixture");
    if (!servers_->ok()) return;
    WriteOciLayout(*dir_ / "small", SmallImage("amd"), TestCompression::kGzip);
    WriteOciLayout(*dir_ / "arm", SmallImage("arm"), TestCompression::kGzip);
    WriteMultiPlatformLayout(*dir_ / "multi", *dir_ / "small", *dir_ / "arm");
    std::string small = "oci:" + *dir_ / "small" + ":latest";
    std::string multi = "oci:" + *dir_ / "multi" + ":multi";
    pushed_ = servers_->Push(small, "lode/small:v1") && servers_->Push(small, "public/small:v1") &&
              servers_->Push(small, "lode/small:v2s2", "--format v2s2") &&
              servers_->Push(small, "lode/small:v2s1", "--format v2s1") &&
              servers_->Push(multi, "lode/multi:latest", "--all") &&
              servers_->Push(multi, "lode/multi-docker:latest", "--all --format v2s2");
  }
  static void TearDownTestSuite() {
    delete servers_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(servers_->ok()) << servers_->error();
    ASSERT_TRUE(pushed_) << servers_->error();
    servers_->SetMode("proxy", "pass");
    servers_->SetMode("tproxy", "pass");
    servers_->SetTokenLifetime(300);
    work_ = std::make_unique<ScratchDir>("lode-registry-case");
    fs::create_directories(*work_ / "home");
    ASSERT_EQ(Lode("key create t1").exit_code, 0);
  }

  // lode with its own keys and store, and a HOME without credentials.
  CommandResult Lode(const std::string& args, const std::string& env = "") {
    return RunCommand("env -u XDG_RUNTIME_DIR -u REGISTRY_AUTH_FILE -u DOCKER_CONFIG HOME=" +
                      ShellQuote(*work_ / "home") + " LODE_KEYS=" + ShellQuote(*work_ / "keys") +
                      " LODE_STORE=dir://" + ShellQuote(*work_ / "store") + " " + env + " " +
                      LodeBinary() + " " + args + " 2>&1");
  }
  std::string Docker(const std::string& server, const std::string& repo_tag) {
    return "docker://" + servers_->Get(server) + "/" + repo_tag;
  }
  // sha256 of `lode flatten IMAGE` ("" when it fails; the output is logged).
  std::string FlattenDigest(const std::string& image, const std::string& flags = "") {
    std::string out = *work_ / "out.ext4";
    CommandResult r = Lode("flatten " + ShellQuote(image) + " -o " + ShellQuote(out) + " " + flags);
    EXPECT_EQ(r.exit_code, 0) << image << ": " << r.output;
    if (r.exit_code != 0) return "";
    return Sha256Hex(ReadFile(out));
  }
  std::string LocalDigest(const std::string& layout = "small") {
    static std::map<std::string, std::string> cache;
    if (!cache.count(layout)) cache[layout] = FlattenDigest("oci:" + *dir_ / layout);
    return cache[layout];
  }
  // Files under the store's manifests/ and refs/ directories.
  int StoredManifestsAndTags() {
    CommandResult r = RunCommand("find " + ShellQuote(*work_ / "store") +
                                 " -type f \\( -path '*/manifests/*' -o -path '*/refs/*' \\) "
                                 "-not -name '.tmp.*' 2>/dev/null | wc -l");
    return std::stoi(r.output);
  }
  // A failed push: one line, non-zero exit, nothing left to find in the store.
  void ExpectPushFails(const std::string& args, const std::string& needle) {
    CommandResult r = Lode("push " + args + " --tenant t1 --tag app");
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(servers_->Get("PASSWORD")), std::string::npos) << r.output;
    EXPECT_EQ(StoredManifestsAndTags(), 0);
  }
  std::string Basic() { return "--creds lode:" + servers_->Get("PASSWORD"); }

  static ScratchDir* dir_;
  static RegistryServers* servers_;
  static bool pushed_;
  std::unique_ptr<ScratchDir> work_;
};

ScratchDir* RegistryTest::dir_ = nullptr;
RegistryServers* RegistryTest::servers_ = nullptr;
bool RegistryTest::pushed_ = false;

TEST_F(RegistryTest, EveryAuthModeFlattensToTheLocalLayoutsBytes) {
  std::string want = LocalDigest();
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/small:v1")), want);
  EXPECT_EQ(FlattenDigest(Docker("BASIC", "lode/small:v1"),
                          Basic() + " --cert-dir " + servers_->Get("CERT_DIR")),
            want);
  EXPECT_EQ(FlattenDigest(Docker("TOKEN", "lode/small:v1"), Basic()), want);
  EXPECT_EQ(FlattenDigest(Docker("TOKEN", "public/small:v1")), want);  // anonymous token
  servers_->ClearLog("blobhost");
  EXPECT_EQ(FlattenDigest(Docker("REDIRECT", "lode/small:v1"), Basic()), want);
  // Every blob came from the redirect target, none with the credentials.
  std::string blobhost = servers_->Log("blobhost");
  EXPECT_EQ(std::count(blobhost.begin(), blobhost.end(), '\n'), 4) << blobhost;
  EXPECT_EQ(blobhost.find("authorization=present"), std::string::npos) << blobhost;
}

TEST_F(RegistryTest, ManifestKindsAndPlatformsResolve) {
  std::string want = LocalDigest();
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/small:v2s2")), want);
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/multi:latest")), want);
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/multi-docker")), want);  // tag defaults to latest
  std::string arm = LocalDigest("arm");
  ASSERT_FALSE(arm.empty());
  EXPECT_NE(arm, want);
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/multi:latest"), "--platform linux/arm64"), arm);
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/multi-docker:latest"), "--platform linux/arm64"),
            arm);
  // Pinned by digest: the manifest the local layout names.
  std::string digest = json::parse(ReadFile(*dir_ / "small/index.json"))["manifests"][0]["digest"];
  EXPECT_EQ(FlattenDigest(Docker("PLAIN", "lode/small@" + digest)), want);
  CommandResult r = Lode("flatten " + Docker("PLAIN", "lode/multi") +
                         " --platform linux/s390x -o " + ShellQuote(*work_ / "x.ext4"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no manifest for platform linux/s390x"), std::string::npos) << r.output;
}

TEST_F(RegistryTest, PushKeepsRunConfigAndDigestAndRepushDownloadsNothing) {
  std::string image = Docker("PROXY", "lode/multi:latest");
  servers_->ClearLog("proxy");
  CommandResult first = Lode("push " + image + " --tenant t1 --tag app --json");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  json j = json::parse(first.output);
  std::string manifest =
      json::parse(ReadFile(*dir_ / "small/index.json"))["manifests"][0]["digest"];
  EXPECT_EQ(j["image_digest"], manifest);
  EXPECT_TRUE(j["index_digest"].is_string());
  EXPECT_FALSE(j["reused"].get<bool>());
  EXPECT_NE(servers_->Log("proxy").find("/blobs/"), std::string::npos);

  CommandResult inspect = Lode("inspect app --tenant t1 --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("/app/run"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("amd"), std::string::npos) << inspect.output;

  servers_->ClearLog("proxy");
  CommandResult again = Lode("push " + image + " --tenant t1 --json");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  json k = json::parse(again.output);
  EXPECT_TRUE(k["reused"].get<bool>());
  EXPECT_EQ(k["ref"], j["ref"]);
  EXPECT_EQ(k["chunks_new"], 0);
  EXPECT_EQ(servers_->Log("proxy").find("/blobs/"), std::string::npos) << servers_->Log("proxy");

  // Other push options make other bytes: no reuse.
  CommandResult other = Lode("push " + image + " --tenant t1 --json --headroom 32MiB");
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_FALSE(json::parse(other.output)["reused"].get<bool>());

  CommandResult exported = Lode("export app --tenant t1 -o " + ShellQuote(*work_ / "e.ext4"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_EQ(Sha256Hex(ReadFile(*work_ / "e.ext4")), LocalDigest());
}

TEST_F(RegistryTest, CredentialsComeFromAuthFilesAndHelpers) {
  std::string image = Docker("BASIC", "lode/small:v1");
  std::string tls = " --cert-dir " + servers_->Get("CERT_DIR");
  std::string auth = "bG9kZTpzM2NyZXQ=";  // base64 of lode:s3cret
  std::string host = servers_->Get("BASIC");
  std::ofstream(*work_ / "auth.json") << json{{"auths", {{host, {{"auth", auth}}}}}}.dump();
  EXPECT_EQ(FlattenDigest(image, tls + " --authfile " + *work_ / "auth.json"), LocalDigest());

  // The containers default location and a repository-scoped key.
  fs::create_directories(*work_ / "home/.config/containers");
  std::ofstream(*work_ / "home/.config/containers/auth.json")
      << json{{"auths", {{"https://" + host + "/lode", {{"auth", auth}}}}}}.dump();
  EXPECT_EQ(FlattenDigest(image, tls), LocalDigest());
  fs::remove(*work_ / "home/.config/containers/auth.json");

  // docker's config.json naming a credential helper found on PATH.
  fs::create_directories(*work_ / "home/.docker");
  fs::create_directories(*work_ / "bin");
  std::string helper = *work_ / "bin/docker-credential-lodetest";
  std::ofstream(helper)
      << "#!/bin/sh\ncat > " + *work_ / "helper.stdin" + "\n"
      << "echo '{\"ServerURL\":\"x\",\"Username\":\"lode\",\"Secret\":\"s3cret\"}'\n";
  fs::permissions(helper, fs::perms::owner_all);
  std::ofstream(*work_ / "home/.docker/config.json")
      << json{{"credHelpers", {{host, "lodetest"}}}}.dump();
  CommandResult r = Lode("flatten " + image + tls + " -o " + ShellQuote(*work_ / "h.ext4"),
                         "PATH=" + *work_ / "bin" + ":$PATH");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(*work_ / "helper.stdin"), host);

  // An identity token is exchanged at the token realm (OAuth2 refresh grant).
  std::string token_host = servers_->Get("TOKEN");
  std::ofstream(*work_ / "id.json")
      << json{{"auths", {{token_host, {{"identitytoken", "lode-refresh-lode"}}}}}}.dump();
  servers_->ClearLog("tokensrv");
  EXPECT_EQ(FlattenDigest(Docker("TOKEN", "lode/small:v1"), "--authfile " + *work_ / "id.json"),
            LocalDigest());
  EXPECT_NE(servers_->Log("tokensrv").find("POST refresh_token user=lode"), std::string::npos)
      << servers_->Log("tokensrv");
}

TEST_F(RegistryTest, TrustsCertsDAndRefusesUnknownCertificates) {
  std::string image = Docker("BASIC", "lode/small:v1");
  ExpectPushFails(image + " " + Basic(), "--tls-verify=false");
  std::string certs_d = "/etc/containers/certs.d/" + servers_->Get("BASIC");
  fs::create_directories(certs_d);
  fs::copy_file(servers_->Get("CA"), certs_d + "/ca.crt", fs::copy_options::overwrite_existing);
  std::string digest = FlattenDigest(image, Basic());
  fs::remove_all(certs_d);
  EXPECT_EQ(digest, LocalDigest());
  EXPECT_EQ(FlattenDigest(image, Basic() + " --tls-verify=false"), LocalDigest());
}

TEST_F(RegistryTest, WrongCredentialsAndMissingImagesFailWithOneLine) {
  ExpectPushFails(Docker("BASIC", "lode/small:v1") + " --creds lode:wr0ng --cert-dir " +
                      servers_->Get("CERT_DIR"),
                  "authentication failed");
  ExpectPushFails(Docker("TOKEN", "lode/small:v1") + " --creds lode:wr0ng",
                  "token server http://127.0.0.1");
  ExpectPushFails(Docker("TOKEN", "lode/small:v1"), "authentication required");
  ExpectPushFails(Docker("PLAIN", "lode/small:nope"), "not found (MANIFEST_UNKNOWN");
  ExpectPushFails(Docker("PLAIN", "lode/nothere:v1"), "not found");
  ExpectPushFails(Docker("PLAIN", "lode/small:v2s1"), "schema 1");
  ExpectPushFails("docker://" + servers_->Get("PLAIN") + "/Lode/x", "lower-case");
}

TEST_F(RegistryTest, TamperedManifestsAreRefused) {
  std::string big = *work_ / "big.json";
  std::ofstream(big) << std::string(5 << 20, ' ');
  servers_->SetMode("proxy", "swap-manifest " + big);
  ExpectPushFails(Docker("PROXY", "lode/small:v1"), "larger than 4 MiB");
  // Another valid manifest's bytes: by tag they contradict Docker-Content-Digest.
  std::string other = *work_ / "other.json";
  std::string arm_digest =
      json::parse(ReadFile(*dir_ / "arm/index.json"))["manifests"][0]["digest"];
  fs::copy_file(*dir_ / "arm/blobs/sha256/" + arm_digest.substr(7), other);
  servers_->SetMode("proxy", "swap-manifest " + other);
  ExpectPushFails(Docker("PROXY", "lode/small:v1"), "but the content is " + arm_digest);
  std::string digest = json::parse(ReadFile(*dir_ / "small/index.json"))["manifests"][0]["digest"];
  ExpectPushFails(Docker("PROXY", "lode/small@" + digest), "content is " + arm_digest);
}

TEST_F(RegistryTest, TamperedBlobsAreRefusedAndDroppedTransfersResume) {
  std::string image = Docker("PROXY", "lode/small:v1");
  servers_->SetMode("proxy", "corrupt-blob");
  ExpectPushFails(image, "digest mismatch");
  servers_->SetMode("proxy", "short-blob");
  ExpectPushFails(image, "does not match its descriptor's size");
  servers_->SetMode("proxy", "truncate-blob");
  ExpectPushFails(image, "transfer closed");

  servers_->SetMode("proxy", "500-once");
  EXPECT_EQ(FlattenDigest(image), LocalDigest());
  servers_->ClearLog("proxy");
  servers_->SetMode("proxy", "drop-once");
  EXPECT_EQ(FlattenDigest(image), LocalDigest());
  // The cut blob was asked for again from where it stopped.
  std::string log = servers_->Log("proxy");
  EXPECT_NE(log.find("range=bytes="), std::string::npos) << log;
}

TEST_F(RegistryTest, RegistryStoppedMidPullFailsThenPullsAfterRestart) {
  std::string image = Docker("PROXY", "lode/small:v1");
  servers_->SetMode("proxy", "throttle 200000");
  servers_->ClearLog("proxy");
  std::string out = *work_ / "push.out";
  RunCommand("(" + std::string("env HOME=") + ShellQuote(*work_ / "home") + " LODE_KEYS=" +
             ShellQuote(*work_ / "keys") + " LODE_STORE=dir://" + ShellQuote(*work_ / "store") +
             " " + LodeBinary() + " push " + image + " --tenant t1 --tag app > " + ShellQuote(out) +
             " 2>&1; echo rc=$? >> " + ShellQuote(out) + ") >/dev/null 2>&1 &");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (servers_->Log("proxy").find("/blobs/") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  servers_->Stop("proxy");
  while (ReadFile(out).find("rc=") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(40)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string output = ReadFile(out);
  EXPECT_NE(output.find("rc=1"), std::string::npos) << output;
  EXPECT_NE(output.find("unreachable"), std::string::npos) << output;
  EXPECT_EQ(StoredManifestsAndTags(), 0);
  servers_->SetMode("proxy", "pass");
  ASSERT_TRUE(servers_->Start("proxy"));
  CommandResult r = Lode("push " + image + " --tenant t1 --tag app");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(StoredManifestsAndTags(), 3);  // the manifest, app and the chain tag
}

TEST_F(RegistryTest, TokenExpiringMidPullIsRefreshed) {
  // Tokens live 3 s (60 s of the registry's leeway after an expiry 57 s ago)
  // while the token server claims 300 s; each blob waits 1.5 s at the proxy.
  servers_->SetTokenLifetime(-57);
  servers_->SetMode("tproxy", "delay 1.5");
  servers_->ClearLog("tokensrv");
  EXPECT_EQ(FlattenDigest(Docker("TPROXY", "lode/small:v1"), Basic() + " --concurrent-downloads 1"),
            LocalDigest());
  std::string log = servers_->Log("tokensrv");
  EXPECT_GE(std::count(log.begin(), log.end(), '\n'), 2) << log;
}

}  // namespace
}  // namespace lode::testing
