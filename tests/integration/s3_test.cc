// The s3:// store against a real S3 server: Ceph RGW on 127.0.0.1, started
// once for the suite by scripts/rgw.sh (SigV4 is checked for real). Then the
// whole path, push -> agent -> lode run, over RGW with a 5-server memcached
// L2. Oracles: the bytes put, RGW's answers, lode's output and counters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "store/object_store.h"
#include "testing/debian_image.h"
#include "testing/gc_expiry.h"
#include "testing/memcached_fleet.h"
#include "testing/process.h"
#include "testing/rgw_server.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class S3Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-s3");
    rgw_ = new RgwServer(*dir_ / "rgw");
    if (!rgw_->ok()) return;
    ::setenv("AWS_ACCESS_KEY_ID", rgw_->access_key().c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", rgw_->secret_key().c_str(), 1);
  }
  static void TearDownTestSuite() {
    delete rgw_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(rgw_->ok()) << rgw_->error(); }

  std::unique_ptr<store::ObjectStore> Store(const std::string& prefix) {
    auto s = store::OpenStore(rgw_->Url(prefix));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
  CommandResult Lode(const std::string& env, const std::string& args) {
    return RunCommand("LODE_KEYS=" + ShellQuote(*dir_ / "keys") + " " + env + LodeBinary() + " " +
                      args);
  }
  static void ExpectOneLine(const CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  }

  static ScratchDir* dir_;
  static RgwServer* rgw_;
};

ScratchDir* S3Test::dir_ = nullptr;
RgwServer* S3Test::rgw_ = nullptr;

TEST_F(S3Test, ObjectsRoundTripWithEveryAllowedCharacter) {
  auto s = Store("contract");
  ASSERT_TRUE(s);
  std::string key = "root-0/chunks/AZaz09._-x/name.with-every_char";
  std::vector<uint8_t> data(300000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(s->Put(key, data).ok());
  auto got = s->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);
  EXPECT_TRUE(*s->Exists(key));
  EXPECT_FALSE(*s->Exists(key + "x"));
  EXPECT_EQ(s->Get(key + "x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*s->List("root-0/"), std::vector<std::string>{key});
  ASSERT_TRUE(s->Delete(key).ok());
  EXPECT_TRUE(s->Delete(key).ok());  // deleting what is gone is fine
  EXPECT_FALSE(*s->Exists(key));
  EXPECT_FALSE(s->Put("../escape", data).ok());
}

TEST_F(S3Test, LargeListingsArePaginated) {
  auto s = Store("listing");
  ASSERT_TRUE(s);
  constexpr int kObjects = 2100;  // RGW pages at 1000 keys
  std::atomic<int> failed = 0;
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += 8) {
        failed += !s->Put("many/o" + std::to_string(10000 + i), Bytes("x")).ok();
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failed.load(), 0);
  auto keys = s->List("many/");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), static_cast<size_t>(kObjects));
  EXPECT_EQ(keys->front(), "many/o10000");
  EXPECT_EQ(keys->back(), "many/o" + std::to_string(10000 + kObjects - 1));
}

TEST_F(S3Test, WrongCredentialsAndMissingBucketGetOneClearLine) {
  ASSERT_EQ(Lode("", "key create acme").exit_code, 0);
  std::string wrong = "AWS_ACCESS_KEY_ID=" + rgw_->access_key() + " AWS_SECRET_ACCESS_KEY=wrong ";
  CommandResult denied = Lode(wrong, "ls --tenant acme --store " + ShellQuote(rgw_->Url("auth")));
  ExpectOneLine(denied, "access denied");
  EXPECT_EQ(denied.output.find("wrong"), std::string::npos) << "the secret must not be printed";
  std::string nobucket = "s3://no-such-bucket/x?endpoint=" + rgw_->endpoint() + "&region=us-east-1";
  ExpectOneLine(Lode(rgw_->Env(), "ls --tenant acme --store " + ShellQuote(nobucket)),
                "does not exist");
  ExpectOneLine(Lode("AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= HOME=/nonexistent ",
                     "ls --tenant acme --store " + ShellQuote(rgw_->Url("auth"))),
                "no S3 credentials");
}

TEST_F(S3Test, EndpointStoppedMidRunFailsThenRecovers) {
  auto s = Store("outage");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Put("k", Bytes("before")).ok());
  rgw_->StopEndpoint();
  auto start = std::chrono::steady_clock::now();
  auto during = s->Get("k");
  EXPECT_EQ(during.status().code(), StatusCode::kUnavailable) << during.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_TRUE(rgw_->StartEndpoint());
  auto after = s->Get("k");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, Bytes("before"));
}

TEST_F(S3Test, PushAgentAndRunOverRgwWithAMemcachedL2) {
  std::string rootfs = CachedDebianRootfs();
  ASSERT_FALSE(rootfs.empty());
  WriteOciLayout(*dir_ / "oci", BuildDebianImage(rootfs), TestCompression::kGzip);
  Lode("", "key create runner");
  std::string store = "--store " + ShellQuote(rgw_->Url("images"));
  CommandResult push = Lode(rgw_->Env(), "push " + ShellQuote(*dir_ / "oci") +
                                             " --tenant runner --tag deb --json " + store);
  ASSERT_EQ(push.exit_code, 0) << push.output;
  MemcachedFleet fleet(5);
  ASSERT_TRUE(fleet.ok());
  std::string timings = *dir_ / "timings.json";
  auto run = [&](const std::string& cache) {
    CommandResult r = Lode(rgw_->Env(), "run deb --tenant runner --prefetch off " + store +
                                            " --l2 " + fleet.Url() + " --cache " +
                                            ShellQuote(*dir_ / cache) + " --timings-json " +
                                            ShellQuote(timings) + " -- python3 -c 'print(42)'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "42\n");
    std::ifstream in(timings);
    return json::parse(in, nullptr, false);
  };
  json cold = run("cache-a");
  EXPECT_GT(cold["origin_fetches"].get<int>(), 0) << cold.dump();
  // Another worker (an empty L1) finds the chunks in L2, even with a server down.
  fleet.Kill(1);
  json other = run("cache-b");
  EXPECT_EQ(other["origin_fetches"].get<int>(), 0) << other.dump();
  EXPECT_EQ(other["l2_hits"].get<int>(), cold["origin_fetches"].get<int>()) << other.dump();
  EXPECT_EQ(other["chunks_fetched"], other["l2_hits"]);
}

// The root lifecycle over RGW: rotate, migrate, expire, an alarm from a
// read of the expired root holding off the sweep, then the sweep deleting
// every object of the root while the tag still exports intact.
TEST_F(S3Test, GcCycleOverRgw) {
  WriteOciLayout(*dir_ / "rules", BuildRulesImage({.wide_entries = 200, .sparse_size = 8 << 20}),
                 TestCompression::kGzip);
  Lode("", "key create gc");
  std::string store = " --store " + ShellQuote(rgw_->Url("gc"));
  std::string env = rgw_->Env();
  ASSERT_EQ(
      Lode("", "flatten " + ShellQuote(*dir_ / "rules") + " -o " + ShellQuote(*dir_ / "rules.ext4"))
          .exit_code,
      0);
  CommandResult push =
      Lode(env, "push " + ShellQuote(*dir_ / "rules") + " --tenant gc --tag app --json" + store);
  ASSERT_EQ(push.exit_code, 0) << push.output;
  std::string old_ref = json::parse(push.output)["ref"];
  auto gc = [&](const std::string& args) {
    CommandResult r = Lode(env, "gc " + args + " --json" + store);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r.exit_code == 0 ? json::parse(r.output) : json::object();
  };
  auto exports = [&](const std::string& ref) {
    CommandResult e =
        Lode(env, "export " + ref + " --tenant gc -o " + ShellQuote(*dir_ / "out.ext4") + store);
    return e.exit_code == 0 && RunCommand("cmp " + ShellQuote(*dir_ / "out.ext4") + " " +
                                          ShellQuote(*dir_ / "rules.ext4"))
                                       .exit_code == 0;
  };
  gc("rotate");
  EXPECT_EQ(gc("migrate")["tags_moved"], 2);  // the tag and the chain tag push writes
  ASSERT_EQ(ExpireWhenOldEnough([&] { return gc("expire"); }, "root-0"), "");
  EXPECT_TRUE(exports(old_ref));  // served, with an alarm
  EXPECT_FALSE(gc("alarms").empty());
  EXPECT_TRUE(gc("sweep --older-than 0s")["deleted"].empty());
  auto objects = Store("gc");
  ASSERT_TRUE(objects);
  EXPECT_FALSE(objects->List("root-0/")->empty());
  gc("alarms --clear root-0");
  EXPECT_EQ(gc("sweep --older-than 0s")["deleted"], json::array({"root-0"}));
  EXPECT_TRUE(objects->List("root-0/")->empty());
  EXPECT_TRUE(exports("app"));
}

// Least privilege in the store itself: one RGW user per role and the bucket
// policy `lode bucket-policy` prints, applied by the bucket's owner. Each
// role's commands work with its own credentials alone (named by profile in
// the store URL); what the others may do, RGW refuses.
TEST_F(S3Test, EachRoleWorksUnderItsOwnCredentialsAndNoMore) {
  for (const char* user : {"pusher", "worker", "gc"}) ASSERT_TRUE(rgw_->CreateUser(user));
  ASSERT_TRUE(rgw_->CreateBucket("roles"));
  std::string url = "s3://roles/r?endpoint=" + rgw_->endpoint() + "&region=us-east-1";
  CommandResult policy = Lode(
      "", "bucket-policy --store " + ShellQuote(url) + " --pusher pusher --worker worker --gc gc");
  ASSERT_EQ(policy.exit_code, 0) << policy.output;
  ASSERT_TRUE(rgw_->PutBucketPolicy("roles", policy.output));
  std::ofstream credentials(*dir_ / "credentials");
  for (const char* user : {"pusher", "worker", "gc"}) {
    credentials << "[" << user << "]\naws_access_key_id = " << user
                << "-access\naws_secret_access_key = " << user << "-secret-0123456789\n";
  }
  credentials.close();
  // The suite's owner credentials stay in the environment: the URL's
  // profile must win over them.
  std::string env = "AWS_SHARED_CREDENTIALS_FILE=" + ShellQuote(*dir_ / "credentials") + " ";
  auto as = [&](const std::string& role) {
    return " --store " + ShellQuote(url + "&profile=" + role);
  };
  WriteOciLayout(*dir_ / "roles-image",
                 BuildRulesImage({.wide_entries = 100, .sparse_size = 4 << 20}),
                 TestCompression::kGzip);
  Lode("", "key create roles");
  std::string image = ShellQuote(*dir_ / "roles-image");

  // The pusher puts, and a second push finds every chunk by listing.
  CommandResult first =
      Lode(env, "push " + image + " --tenant roles --tag app --json" + as("pusher"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  CommandResult again =
      Lode(env, "push " + image + " --tenant roles --tag again --json" + as("pusher"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  json pushed = json::parse(first.output), repushed = json::parse(again.output);
  EXPECT_GT(pushed["chunks_new"].get<int>(), 0);
  EXPECT_EQ(repushed["chunks_new"], 0) << again.output;
  EXPECT_EQ(repushed["chunks_existing"], pushed["chunks_new"]) << again.output;
  // ...but reads no chunk or manifest, and deletes nothing.
  ExpectOneLine(Lode(env, "inspect app --tenant roles" + as("pusher")), "access denied");
  std::string ref = pushed["ref"];
  // The same rights through the store API (the process reads the profiles).
  ::setenv("AWS_SHARED_CREDENTIALS_FILE", (*dir_ / "credentials").c_str(), 1);
  auto store_as = [&](const std::string& role) {
    return std::move(store::OpenStore(url + "&profile=" + role).value());
  };
  auto chunks = store_as("gc")->List(ref.substr(0, ref.find('/')) + "/chunks/");
  ASSERT_TRUE(chunks.ok() && !chunks->empty());
  std::string chunk = chunks->front();
  auto pusher = store_as("pusher");
  EXPECT_EQ(pusher->Get(chunk).status().code(), StatusCode::kRejected);
  EXPECT_EQ(pusher->Exists(chunk).status().code(), StatusCode::kRejected);  // HEAD reads
  EXPECT_TRUE(*pusher->ExistsByListing(chunk));
  EXPECT_EQ(pusher->Delete(chunk).code(), StatusCode::kRejected);

  // The worker reads images, and writes and deletes nothing else.
  CommandResult inspected = Lode(env, "inspect app --tenant roles" + as("worker"));
  EXPECT_EQ(inspected.exit_code, 0) << inspected.output;
  CommandResult exported =
      Lode(env, "export app --tenant roles -o " + ShellQuote(*dir_ / "roles.ext4") + as("worker"));
  EXPECT_EQ(exported.exit_code, 0) << exported.output;
  auto worker = store_as("worker");
  std::vector<uint8_t> bytes = {1, 2, 3};
  EXPECT_EQ(worker->Put(chunk, bytes).code(), StatusCode::kRejected);
  EXPECT_EQ(worker->Delete(chunk).code(), StatusCode::kRejected);
  ExpectOneLine(Lode(env, "push " + image + " --tenant roles --tag w" + as("worker")),
                "access denied");

  // gc runs its whole cycle with its own.
  auto gc = [&](const std::string& args) {
    CommandResult r = Lode(env, "gc " + args + " --json" + as("gc"));
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r.exit_code == 0 ? json::parse(r.output) : json::object();
  };
  gc("rotate");
  EXPECT_EQ(gc("migrate")["tags_moved"], 3);  // the tags and the chain tag push writes
  ASSERT_EQ(ExpireWhenOldEnough([&] { return gc("expire"); }, "root-0"), "");
  EXPECT_EQ(gc("sweep --older-than 0s")["deleted"], json::array({"root-0"}));
  // The migrated image still reads, for the worker.
  CommandResult after =
      Lode(env, "export app --tenant roles -o " + ShellQuote(*dir_ / "roles2.ext4") + as("worker"));
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(RunCommand("cmp " + ShellQuote(*dir_ / "roles.ext4") + " " +
                       ShellQuote(*dir_ / "roles2.ext4"))
                .exit_code,
            0);
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

}  // namespace
}  // namespace lode::testing
