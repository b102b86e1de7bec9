// Least privilege with keyd: one key daemon on a Unix socket, callers told
// apart by uid and gid (setpriv), the roles and grants of
// docs/design.md ("Trust model"). Oracles: exit status and the one-line
// errors of lode's commands, block files read through a real agent, keyd's
// audit log, and a byte scan of every log and agent file for the secrets
// (tenant secret keys, salts, the data keys of the images).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "keys/key_service.h"
#include "manifest/manifest.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "testing/agent_process.h"
#include "testing/keyd_process.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"
#include "util/base64.h"
#include "util/sha256.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Principals: the agent runs as root (it mounts), so it is worker w1 by uid
// 0; the admin is root with gid 1100 (more specific); the others have uids
// of their own.
constexpr char kPolicy[] = R"({"principals": [
  {"name": "ops", "uid": 0, "gid": 1100, "roles": ["admin"]},
  {"name": "w1", "uid": 0, "roles": ["worker"]},
  {"name": "push", "uid": 1101, "roles": ["pusher"]},
  {"name": "w2", "uid": 1102, "roles": ["worker"]},
  {"name": "gc", "uid": 1103, "roles": ["gc"]},
  {"name": "w3", "certificate": "CN=worker-3", "roles": ["worker"]},
  {"name": "w4", "certificate": "CN=worker-4", "roles": ["worker"]}]})";

// A CA, keyd's certificate (for localhost), client certificates of
// workers 3 and 4, and a rogue "worker-3" of another CA; in `dir`.
bool MakeCertificates(const std::string& dir) {
  std::string script = R"(set -e
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1"; }
cert() {  # NAME SUBJECT CA [EXTFILE]
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem"     -days 2 ${4:+-extfile "$4"} 2>/dev/null
}
ca ca
ca rogue-ca
echo "subjectAltName=DNS:localhost" >san.cnf
cert keyd /CN=keyd ca san.cnf
cert worker-3 /CN=worker-3 ca
cert worker-4 /CN=worker-4 ca
cert rogue /CN=worker-3 rogue-ca
chmod a+r ./*
)";
  std::ofstream(dir + "/make-pki.sh") << script;
  return RunCommand("bash " + ShellQuote(dir + "/make-pki.sh") + " " + ShellQuote(dir)).exit_code ==
         0;
}

struct Caller {
  int uid, gid;
};
constexpr Caller kAdmin{0, 1100}, kPusher{1101, 1101}, kWorker1{0, 0}, kWorker2{1102, 1102},
    kGc{1103, 1103}, kNobody{1104, 1104};

class KeydTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-keyd");
    ::chmod(dir_->path().c_str(), 0755);
    for (const char* d : {"store", "tmp", "home"}) {
      fs::create_directories(*dir_ / d);
      ::chmod((*dir_ / d).c_str(), 01777);
    }
    std::string pki = *dir_ / "pki";
    fs::create_directories(pki);
    ::chmod(pki.c_str(), 0755);
    if (!MakeCertificates(pki)) return;
    keyd_ =
        new KeydProcess(*dir_ / "keyd", kPolicy,
                        "--tls-listen 127.0.0.1:0 --tls-cert " + ShellQuote(pki + "/keyd.pem") +
                            " --tls-key " + ShellQuote(pki + "/keyd.key") + " --tls-client-ca " +
                            ShellQuote(pki + "/ca.pem") + " --metrics-listen 127.0.0.1:0");
    if (!keyd_->Start()) return;
    ImageSpec spec = BuildRulesImage({.wide_entries = 200, .sparse_size = 8 << 20});
    WriteOciLayout(*dir_ / "full", spec, TestCompression::kGzip);
    spec.layers.resize(1);
    WriteOciLayout(*dir_ / "base", spec, TestCompression::kGzip);
    RunCommand("chmod -R a+rX " + ShellQuote(*dir_ / "full") + " " + ShellQuote(*dir_ / "base"));
    ok_ =
        As(kAdmin, "key create acme").exit_code == 0 &&
        As(kAdmin, "key create globex").exit_code == 0 &&
        As(kPusher, "push " + ShellQuote(*dir_ / "full") + " --tenant acme --tag one").exit_code ==
            0 &&
        As(kPusher, "push " + ShellQuote(*dir_ / "base") + " --tenant acme --tag two").exit_code ==
            0 &&
        As(kPusher, "push " + ShellQuote(*dir_ / "full") + " --tenant globex --tag one")
                .exit_code == 0;
  }
  static void TearDownTestSuite() {
    delete keyd_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(ok_) << (keyd_ ? keyd_->log() : "") << setup_log_; }

  // --keyd over TLS with the client certificate NAME (in DIR/pki).
  static std::string OverTls(const std::string& name) {
    std::string pki = *dir_ / "pki";
    return " --keyd " +
           ShellQuote("tls://localhost:" + std::to_string(keyd_->port("TLS")) + "?ca=" + pki +
                      "/ca.pem&cert=" + pki + "/" + name + ".pem&key=" + pki + "/" + name + ".key");
  }

  // lode as `who`, through keyd only (no key directory anywhere).
  static CommandResult As(Caller who, const std::string& args) {
    std::string env = "HOME=" + ShellQuote(*dir_ / "home") +
                      " TMPDIR=" + ShellQuote(*dir_ / "tmp") +
                      " LODE_KEYD=" + ShellQuote(keyd_->socket()) +
                      " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store") + " ";
    // One dir:// store for every uid: files anyone may replace (an S3 store
    // gives each role its own credentials instead).
    CommandResult r = RunCommand("umask 000 && setpriv --reuid " + std::to_string(who.uid) +
                                 " --regid " + std::to_string(who.gid) + " --clear-groups env " +
                                 env + ShellQuote(LodeBinary()) + " " + args);
    setup_log_ += args + ": " + r.output;
    return r;
  }
  static std::string AgentEnv() {
    return "LODE_KEYD=" + ShellQuote(keyd_->socket()) +
           " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store") + " ";
  }
  static void ExpectOneLine(const CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  }
  // An agent of worker w1 (root) for one test.
  std::unique_ptr<AgentProcess> StartAgent(const std::string& name) {
    fs::create_directories(*dir_ / name);
    auto agent = std::make_unique<AgentProcess>(*dir_ / name, AgentEnv(), "--require-keyd");
    EXPECT_TRUE(agent->Start()) << agent->log();
    return agent;
  }
  static CommandResult Attach(AgentProcess& agent, const std::string& image,
                              const std::string& tenant = "acme") {
    return As(kWorker1, "attach " + image + " --tenant " + tenant + " --json " + agent.SocketArg());
  }

  static ScratchDir* dir_;
  static KeydProcess* keyd_;
  static bool ok_;
  static std::string setup_log_;
};

ScratchDir* KeydTest::dir_ = nullptr;
KeydProcess* KeydTest::keyd_ = nullptr;
bool KeydTest::ok_ = false;
std::string KeydTest::setup_log_;

TEST_F(KeydTest, APusherPutsButCannotOpen) {
  // A second push of the same image deduplicates against the first.
  CommandResult again =
      As(kPusher, "push " + ShellQuote(*dir_ / "full") + " --tenant acme --tag one-again");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  ExpectOneLine(As(kPusher, "inspect one --tenant acme"), "needs the worker or gc role");
  ExpectOneLine(As(kPusher, "key create initech"), "needs the admin role");
}

TEST_F(KeydTest, AWorkerOpensOnlyWhatItWasGranted) {
  std::unique_ptr<AgentProcess> agent = StartAgent("agent-grants");
  CommandResult refused = Attach(*agent, "one");
  ExpectOneLine(refused, "worker w1 holds no live grant for tenant acme's manifest root-");
  EXPECT_NE(refused.output.find("lode grant"), std::string::npos) << refused.output;

  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w1").exit_code, 0);
  CommandResult attached = Attach(*agent, "one");
  ASSERT_EQ(attached.exit_code, 0) << attached.output << agent->log();
  std::string path = json::parse(attached.output)["path"];
  // The whole block file reads (every chunk opened with the granted manifest).
  EXPECT_EQ(RunCommand("cat " + ShellQuote(path) + " >/dev/null").exit_code, 0);
  // The same tenant's other image, and another tenant's image of the same
  // tag, stay closed.
  ExpectOneLine(Attach(*agent, "two"), "holds no live grant for tenant acme's manifest");
  ExpectOneLine(Attach(*agent, "one", "globex"), "holds no live grant for tenant globex's");
  // w1's grant is not w2's.
  ExpectOneLine(As(kWorker2, "inspect one --tenant acme"), "worker w2 holds no live grant");
  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w2").exit_code, 0);
  EXPECT_EQ(As(kWorker2, "inspect one --tenant acme").exit_code, 0);
}

TEST_F(KeydTest, ExpiredAndRevokedGrantsAreRefused) {
  // Long enough to be used even by a sanitizer build; then waited out.
  ASSERT_EQ(As(kAdmin, "grant two --tenant acme --worker w2 --ttl 4s").exit_code, 0);
  EXPECT_EQ(As(kWorker2, "inspect two --tenant acme").exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  CommandResult expired;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    expired = As(kWorker2, "inspect two --tenant acme");
  } while (expired.exit_code == 0 && std::chrono::steady_clock::now() < deadline);
  ExpectOneLine(expired, "holds no live grant");

  ASSERT_EQ(As(kAdmin, "grant two --tenant acme --worker w2").exit_code, 0);
  json grants = json::parse(As(kAdmin, "grants --json").output);
  bool listed = false;
  for (const json& g : grants) listed |= g["worker"] == "w2" && g["label"] == "two";
  EXPECT_TRUE(listed) << grants.dump();
  EXPECT_EQ(As(kWorker2, "inspect two --tenant acme").exit_code, 0);
  EXPECT_EQ(As(kAdmin, "revoke two --tenant acme --worker w2").exit_code, 0);
  ExpectOneLine(As(kWorker2, "inspect two --tenant acme"), "holds no live grant");
  ExpectOneLine(As(kAdmin, "revoke two --tenant acme --worker w2"), "holds no grant");
  // Only the admin grants.
  ExpectOneLine(As(kWorker2, "grant two --tenant acme --worker w2"), "needs the admin role");
}

TEST_F(KeydTest, ACallerWithNoRoleGetsNothing) {
  ExpectOneLine(As(kNobody, "key list"), "no principal in keyd's policy");
  ExpectOneLine(As(kNobody, "key export-public acme"), "no principal in keyd's policy");
  ExpectOneLine(As(kNobody, "inspect one --tenant acme"), "no principal in keyd's policy");
  ExpectOneLine(As(kNobody, "grants"), "no principal in keyd's policy");
}

// Workers on other machines: TLS with client certificates; the subject is
// who the caller is, whatever its uid.
TEST_F(KeydTest, OverTlsWorkersAreKnownByTheirCertificates) {
  ASSERT_GT(keyd_->port("TLS"), 0) << keyd_->log();
  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w3").exit_code, 0);
  CommandResult granted = As(kNobody, "inspect one --tenant acme" + OverTls("worker-3"));
  EXPECT_EQ(granted.exit_code, 0) << granted.output;
  ExpectOneLine(As(kNobody, "inspect one --tenant acme" + OverTls("worker-4")),
                "worker w4 holds no live grant");
  // The same subject from another CA does not get through the handshake.
  ExpectOneLine(As(kNobody, "inspect one --tenant acme" + OverTls("rogue")), "TLS handshake");
  std::ifstream audit(keyd_->audit_log());
  std::string text((std::istreambuf_iterator<char>(audit)), {});
  EXPECT_NE(text.find(R"("certificate":"CN=worker-3")"), std::string::npos);
}

TEST_F(KeydTest, FunctionObjectsOpenOnlyUnderAFunctionGrant) {
  CommandResult created = As(kPusher, "function create hello --image one --tenant acme");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  ExpectOneLine(As(kWorker2, "function ls --tenant acme"),
                "worker w2 holds no live grant for tenant acme's function hello");
  // A grant of the function's image alone does not open its configuration.
  ASSERT_EQ(As(kAdmin, "grant function.hello --tenant acme --worker w2").exit_code, 0);
  ExpectOneLine(As(kWorker2, "function ls --tenant acme"), "function hello");
  ASSERT_EQ(As(kAdmin, "grant function:hello --tenant acme --worker w2").exit_code, 0);
  CommandResult listed = As(kWorker2, "function ls --tenant acme --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("\"hello\""), std::string::npos) << listed.output;
}

TEST_F(KeydTest, AnAgentThatRequiresKeydRefusesToStartWithoutIt) {
  CommandResult r = RunCommand(ShellQuote(LodeBinary()) + " agent --require-keyd --socket " +
                               ShellQuote(*dir_ / "never.sock"));
  ExpectOneLine(r, "--require-keyd: no key daemon given");
}

TEST_F(KeydTest, AttachedImagesKeepReadingWhileKeydIsDown) {
  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w1").exit_code, 0);
  ASSERT_EQ(As(kAdmin, "grant two --tenant acme --worker w1").exit_code, 0);
  std::unique_ptr<AgentProcess> agent = StartAgent("agent-restart");
  CommandResult attached = Attach(*agent, "one");
  ASSERT_EQ(attached.exit_code, 0) << attached.output;
  std::string path = json::parse(attached.output)["path"];

  // SIGTERM: keyd exits 0 and takes its socket file with it.
  EXPECT_EQ(keyd_->Stop(), 0) << keyd_->log();
  EXPECT_FALSE(fs::exists(keyd_->socket()));
  EXPECT_EQ(RunCommand("cat " + ShellQuote(path) + " >/dev/null").exit_code, 0);
  ExpectOneLine(Attach(*agent, "two"), "keyd at " + keyd_->socket() + " is unreachable");

  ASSERT_TRUE(keyd_->Start()) << keyd_->log();
  // The agent's connection to the old keyd is gone; it reconnects.
  CommandResult again = Attach(*agent, "two");
  EXPECT_EQ(again.exit_code, 0) << again.output << agent->log();
}

TEST_F(KeydTest, RevokeCanDetachWhatIsAttached) {
  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w1").exit_code, 0);
  std::unique_ptr<AgentProcess> agent = StartAgent("agent-revoke");
  CommandResult attached = Attach(*agent, "one");
  ASSERT_EQ(attached.exit_code, 0) << attached.output;
  std::string id = json::parse(attached.output)["id"];
  CommandResult revoked =
      As(kAdmin, "revoke one --tenant acme --worker w1 --detach " + agent->SocketArg());
  EXPECT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_NE(revoked.output.find("detached " + id), std::string::npos) << revoked.output;
  CommandResult listed = As(kWorker1, "ps --json " + agent->SocketArg());
  EXPECT_EQ(json::parse(listed.output).size(), 0u) << listed.output;
  ExpectOneLine(Attach(*agent, "one"), "holds no live grant");
}

TEST_F(KeydTest, GcMigratesWithItsOwnRoleAndGrantsFollowTheImages) {
  ASSERT_EQ(As(kAdmin, "grant one --tenant acme --worker w1").exit_code, 0);
  ASSERT_EQ(As(kGc, "gc rotate").exit_code, 0);
  CommandResult migrated = As(kGc, "gc migrate --json");
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  EXPECT_GT(json::parse(migrated.output)["tags_moved"].get<int>(), 0) << migrated.output;
  // `one` now names its copy in the new root, which w1 may open too.
  std::unique_ptr<AgentProcess> agent = StartAgent("agent-gc");
  CommandResult attached = Attach(*agent, "one");
  ASSERT_EQ(attached.exit_code, 0) << attached.output << agent->log();
  EXPECT_EQ(json::parse(attached.output)["ref"].get<std::string>().substr(0, 7), "root-1/");
  // Nothing but manifests: gc opens no function and grants nothing.
  ExpectOneLine(As(kGc, "grant two --tenant acme --worker gc"), "needs the admin role");
}

// Last: the decisions of the tests above are in the log.
TEST_F(KeydTest, TheAuditLogHoldsEveryDecisionAndNoSecretLeaks) {
  std::ifstream in(keyd_->audit_log());
  int allowed_opens = 0, refused_opens = 0, lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ASSERT_TRUE(j.contains("op") && j.contains("allowed") &&
                (j.contains("uid") || j.contains("certificate")))
        << line;
    if (j["op"] == "open") (j["allowed"] ? allowed_opens : refused_opens)++;
    if (j["op"] == "open" && !j["allowed"].get<bool>()) {
      EXPECT_FALSE(j.value("reason", "").empty()) << line;
    }
  }
  EXPECT_GT(lines, 20);
  EXPECT_GT(allowed_opens, 0);
  EXPECT_GT(refused_opens, 3);
  // The same decisions as Prometheus counters (those since keyd's last
  // start), in a format promtool accepts.
  std::string url = "http://127.0.0.1:" + std::to_string(keyd_->port("metrics")) + "/metrics";
  CommandResult metrics = RunCommand("curl -sf " + url);
  ASSERT_EQ(metrics.exit_code, 0) << metrics.output << keyd_->log();
  EXPECT_NE(metrics.output.find(R"(lode_keyd_decisions_total{op="open",allowed="true"})"),
            std::string::npos)
      << metrics.output;
  EXPECT_EQ(RunCommand("curl -sf " + url + " | promtool check metrics").exit_code, 0);

  // The secrets: tenant secret keys and salts (keyd's directory), and the
  // data keys of every manifest in the store.
  std::vector<std::string> secrets;
  for (const auto& e : fs::recursive_directory_iterator(keyd_->key_dir())) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() &&
        (e.path().extension() == ".key" || e.path().parent_path().filename() == "salts")) {
      std::ifstream f(e.path());
      std::string hex;
      f >> hex;
      if (hex.size() == 64) secrets.push_back(hex);
    }
  }
  auto keys = keys::OpenLocalKeyService(keyd_->key_dir());
  ASSERT_TRUE(keys.ok());
  for (const auto& e : fs::recursive_directory_iterator(*dir_ / "store")) {
    if (e.path().parent_path().filename() != "manifests") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), {});
    std::span<const uint8_t> sealed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::string ref = e.path().parent_path().parent_path().filename().string() + "/" +
                      e.path().filename().string();
    for (const char* tenant : {"acme", "globex"}) {
      auto key = (*keys)->OpenDataKey({keys::SealedKind::kManifest, tenant, ref, sealed});
      if (!key.ok()) continue;
      secrets.push_back(ToHex(*key));
      secrets.push_back(Base64Encode(std::string(key->begin(), key->end())));
    }
  }
  ASSERT_GE(secrets.size(), 2u + 3u * 2u);
  // Everything but keyd's own key files: logs, agents' files, the store;
  // and everything the tests' commands printed.
  for (const std::string& secret : secrets) {
    // Every message lode printed to these callers, then every file.
    EXPECT_EQ(setup_log_.find(secret), std::string::npos) << "a secret reached a message";
    CommandResult found = RunCommand("grep -rlaF -e " + ShellQuote(secret) + " " +
                                     ShellQuote(dir_->path()) + " --exclude-dir=keys");
    EXPECT_EQ(found.output, "") << "a secret leaked into these files";
  }
}

}  // namespace
}  // namespace lode::testing
