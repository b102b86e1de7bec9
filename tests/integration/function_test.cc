// Functions as Lambda runs them: `lode function` and `lode serve` with a
// real custom runtime (a shell bootstrap speaking the Runtime API with
// curl) in crun containers, invoked through a real HTTP client (curl).
// Oracles: the Invoke API's status codes, headers and bodies as Lambda
// documents them, what the runtime saw (its environment, its sandbox id
// and invocation count), the function's log and REPORT records, the host's
// metrics, and what is left behind (processes, mounts, directories).
//
// One host serves the suite (its private agent and image are shared);
// shutdown tests start their own.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/agent_process.h"
#include "testing/debian_image.h"
#include "testing/files.h"
#include "testing/function_host.h"
#include "testing/function_images.h"
#include "testing/ports.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "util/base64.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json Json(const HttpAnswer& a) {
  json j = json::parse(a.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << a.status << " " << a.body;
  return j;
}

// The host's first IPv4 address other than loopback: what a sandbox
// reaches through its outbound NAT.
std::string HostAddress() {
  CommandResult r =
      RunCommand("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1");
  std::string ip = r.output.substr(0, r.output.find('\n'));
  return ip;
}

class FunctionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-fn");
    env_ = "TMPDIR=" + ShellQuote(*dir_ / "tmp") + " LODE_KEYS=" + ShellQuote(*dir_ / "keys") +
           " LODE_STORE=dir://" + ShellQuote(*dir_ / "store") + " ";
    fs::create_directories(*dir_ / "tmp");
    std::string rootfs = CachedCurlRootfs();
    if (rootfs.empty()) return;
    WriteOciLayout(*dir_ / "oci", BootstrapFunctionImage(rootfs), TestCompression::kNone);
    Lode("key create acme");
    Lode("push " + ShellQuote(*dir_ / "oci") + " --tenant acme --tag boot");
    Lode("function create hello --image boot --tenant acme --timeout 2 --env GREETING=hi");
    Lode("function create offline --image boot --tenant acme --network none");
    Lode("function create single --image boot --tenant acme --concurrency 1");
    Lode("function create initerror --image boot --tenant acme --env INIT_ERROR=1");
    Lode("function create initexit --image boot --tenant acme --env INIT_EXIT=1");
    Lode("function create inithang --image boot --tenant acme --env INIT_HANG=1");
    std::string node_rootfs = CachedNodeRootfs();
    if (node_rootfs.empty()) return;
    WriteOciLayout(*dir_ / "node-oci", NodeFunctionImage(node_rootfs), TestCompression::kNone);
    Lode("push " + ShellQuote(*dir_ / "node-oci") + " --tenant acme --tag node");
    Lode("function create node --image node --tenant acme --timeout 1 --memory 256");
    host_ = new ServeProcess(
        dir_->path(), env_,
        "--tenant acme --keep-warm 5s --init-timeout 3 --max-concurrency 8 "
        "--cache " +
            ShellQuote(*dir_ / "cache") + " --log-dir " + ShellQuote(*dir_ / "logs") +
            " --metrics-listen 127.0.0.1:" + std::to_string(metrics_port_ = FreeLoopbackPorts()));
    if (!host_->Start()) ADD_FAILURE() << "lode serve did not start: " << host_->log();
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_ != nullptr && host_->pid() > 0) << "setup failed"; }
  // A failure that only shows on a loaded machine has its cause in the
  // host's log (a sandbox that did not start, a runtime that exited).
  void TearDown() override {
    if (HasFailure() && host_ != nullptr) std::cerr << "lode serve's log:\n" << host_->log();
  }

  static CommandResult Lode(const std::string& args) {
    CommandResult r = RunCommand(env_ + LodeBinary() + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r;
  }
  static HttpAnswer Invoke(const std::string& function, const json& event,
                           const std::vector<std::string>& headers = {}) {
    return host_->Invoke(function, event.dump(), headers);
  }
  // The REPORT records of the host so far.
  static std::vector<json> Reports() {
    std::vector<json> out;
    std::ifstream in(*dir_ / "logs/reports.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  static json ReportOf(const std::string& request_id) {
    for (const json& r : Reports()) {
      if (r["request_id"] == request_id) return r;
    }
    return json();
  }

  static inline ScratchDir* dir_ = nullptr;
  static inline std::string env_;
  static inline ServeProcess* host_ = nullptr;
  static inline int metrics_port_ = 0;
};

TEST_F(FunctionTest, PayloadRoundTripsAndTheSandboxStaysWarm) {
  json event = {{"greeting", "hello"}, {"n", 42}, {"nested", {{"list", {1, 2, 3}}}}};
  HttpAnswer first = Invoke("hello", event);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Header("content-type"), "application/json");
  EXPECT_EQ(first.Header("x-amz-function-error"), "");
  EXPECT_EQ(first.Header("x-amz-executed-version"), "$LATEST");
  json a = Json(first);
  EXPECT_EQ(a["event"], event);
  EXPECT_EQ(a["request_id"], first.Header("x-amzn-requestid"));
  HttpAnswer second = Invoke("hello", {{"n", 43}});
  json b = Json(second);
  EXPECT_EQ(b["sandbox"], a["sandbox"]) << "the warm sandbox served the second invocation";
  EXPECT_EQ(b["count"].get<int>(), a["count"].get<int>() + 1);

  json warm = ReportOf(second.Header("x-amzn-requestid"));
  EXPECT_EQ(warm["start"], "warm");
  EXPECT_EQ(warm["outcome"], "response");
  EXPECT_FALSE(warm.contains("init_duration_ms"));
  EXPECT_EQ(warm["memory_size_mb"], 128);
  EXPECT_GT(warm["max_memory_used_mb"].get<int>(), 0);
  EXPECT_GE(warm["billed_duration_ms"].get<double>(), warm["duration_ms"].get<double>());
  // The function's log has Lambda's lines for each invocation.
  std::string log = ReadAll(*dir_ / "logs/acme/hello.log");
  EXPECT_NE(log.find("START RequestId: " + second.Header("x-amzn-requestid") + " Version: $LATEST"),
            std::string::npos);
  EXPECT_NE(log.find("REPORT RequestId: " + second.Header("x-amzn-requestid") + "\tDuration: "),
            std::string::npos);
  EXPECT_NE(log.find("runtime initialized in sandbox"), std::string::npos);
}

// AWS's own runtime interface client (Node.js), unchanged.
TEST_F(FunctionTest, NodeRuntimeInterfaceClientRunsUnchanged) {
  HttpAnswer first = Invoke("node", {{"x", 1}});
  ASSERT_EQ(first.status, 200) << first.body;
  json a = Json(first);
  EXPECT_EQ(a["event"], json({{"x", 1}}));
  EXPECT_EQ(a["request_id"], first.Header("x-amzn-requestid"));  // context.awsRequestId
  EXPECT_EQ(a["function_arn"], "arn:aws:lambda:us-east-1:acme:function:node");
  EXPECT_GT(a["remaining_ms"].get<int>(), 0);  // from Lambda-Runtime-Deadline-Ms
  EXPECT_LE(a["remaining_ms"].get<int>(), 1000);
  json b = Json(Invoke("node", {{"x", 2}}));
  EXPECT_EQ(b["sandbox"], a["sandbox"]);
  EXPECT_EQ(b["count"], 2);

  HttpAnswer thrown = Invoke("node", {{"action", "error"}});
  EXPECT_EQ(thrown.status, 200);
  EXPECT_EQ(thrown.Header("x-amz-function-error"), "Unhandled");
  json doc = Json(thrown);
  EXPECT_EQ(doc["errorType"], "Error");
  EXPECT_EQ(doc["errorMessage"], "the handler failed on purpose");
  EXPECT_TRUE(doc["trace"].is_array());
  json env = Json(Invoke("node", {{"action", "env"}}));
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
  EXPECT_EQ(env["_HANDLER"], "index.handler");

  HttpAnswer slow = Invoke("node", {{"action", "sleep"}, {"ms", 5000}});
  EXPECT_EQ(Json(slow)["errorType"], "Sandbox.Timedout");
  json fresh = Json(Invoke("node", {{"x", 3}}));
  EXPECT_NE(fresh["sandbox"], a["sandbox"]);
  EXPECT_EQ(fresh["count"], 1) << fresh.dump() << "\n" << ReadAll(*dir_ / "logs/acme/node.log");
  EXPECT_NE(ReadAll(*dir_ / "logs/acme/node.log").find("\tERROR\tInvoke Error"), std::string::npos);
}

TEST_F(FunctionTest, TheRuntimeGetsLambdasEnvironment) {
  json env = Json(Invoke("hello", {{"action", "env"}}));
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(env["_HANDLER"], "handler.main");
  EXPECT_EQ(env["LAMBDA_TASK_ROOT"], "/var/task");
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], "/var/runtime");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "hello");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
  EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
  EXPECT_EQ(env["AWS_REGION"], "us-east-1");
  EXPECT_EQ(env["TZ"], ":UTC");
  EXPECT_EQ(env["GREETING"], "hi");
  EXPECT_NE(env["PATH"].get<std::string>().find("/usr/bin"), std::string::npos);  // the image's
}

TEST_F(FunctionTest, FunctionErrorsAreUnhandledAndKeepTheSandbox) {
  json before = Json(Invoke("hello", {{"action", "echo"}}));
  HttpAnswer failed = Invoke("hello", {{"action", "error"}});
  EXPECT_EQ(failed.status, 200);
  EXPECT_EQ(failed.Header("x-amz-function-error"), "Unhandled");
  json doc = Json(failed);
  EXPECT_EQ(doc["errorType"], "Handler.Failed");
  EXPECT_EQ(doc["errorMessage"], "the handler failed on purpose");
  EXPECT_TRUE(doc["stackTrace"].is_array());
  json after = Json(Invoke("hello", {{"action", "echo"}}));
  EXPECT_EQ(after["sandbox"], before["sandbox"]);
  EXPECT_EQ(ReportOf(failed.Header("x-amzn-requestid"))["error_type"], "Handler.Failed");
}

TEST_F(FunctionTest, ATimeoutDiscardsTheSandbox) {
  json before = Json(Invoke("hello", {{"action", "echo"}}));
  HttpAnswer slow = Invoke("hello", {{"action", "sleep"}, {"seconds", 30}});
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.Header("x-amz-function-error"), "Unhandled");
  json doc = Json(slow);
  EXPECT_EQ(doc["errorType"], "Sandbox.Timedout");
  EXPECT_EQ(doc["errorMessage"], "RequestId: " + slow.Header("x-amzn-requestid") +
                                     " Error: Task timed out after 2.00 seconds");
  json after = Json(Invoke("hello", {{"action", "echo"}}));
  EXPECT_NE(after["sandbox"], before["sandbox"]);
  EXPECT_EQ(after["count"], 1);
  EXPECT_EQ(ReportOf(slow.Header("x-amzn-requestid"))["outcome"], "timeout");
}

TEST_F(FunctionTest, ACrashFailsThatInvocationOnly) {
  json before = Json(Invoke("hello", {{"action", "echo"}}));
  HttpAnswer crashed = Invoke("hello", {{"action", "crash"}});
  EXPECT_EQ(crashed.status, 200);
  EXPECT_EQ(crashed.Header("x-amz-function-error"), "Unhandled");
  json doc = Json(crashed);
  EXPECT_EQ(doc["errorType"], "Runtime.ExitError");
  EXPECT_NE(
      doc["errorMessage"].get<std::string>().find("Runtime exited with error: exit status 86"),
      std::string::npos);
  json after = Json(Invoke("hello", {{"action", "echo"}}));
  EXPECT_NE(after["sandbox"], before["sandbox"]);
}

TEST_F(FunctionTest, InitErrorsFailTheInvocation) {
  HttpAnswer posted = Invoke("initerror", json::object());
  EXPECT_EQ(posted.status, 200);
  EXPECT_EQ(posted.Header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(Json(posted)["errorType"], "Init.Failed");
  HttpAnswer exited = Invoke("initexit", json::object());
  EXPECT_EQ(Json(exited)["errorType"], "Runtime.ExitError");
  EXPECT_NE(exited.body.find("exit status 3"), std::string::npos);
  HttpAnswer hung = Invoke("inithang", json::object());
  EXPECT_EQ(hung.Header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(Json(hung)["errorType"], "Sandbox.Timedout");
  EXPECT_EQ(ReportOf(hung.Header("x-amzn-requestid"))["outcome"], "init_error");
  // Each start failed anew: no broken sandbox was kept.
  EXPECT_EQ(Json(Invoke("initerror", json::object()))["errorType"], "Init.Failed");
}

TEST_F(FunctionTest, TailLogsAsyncInvocationsAndDryRuns) {
  HttpAnswer tail = Invoke("hello", {{"action", "echo"}}, {"X-Amz-Log-Type: Tail"});
  ASSERT_EQ(tail.status, 200);
  std::optional<std::string> log = Base64Decode(tail.Header("x-amz-log-result"));
  ASSERT_TRUE(log.has_value());
  std::string id = tail.Header("x-amzn-requestid");
  EXPECT_NE(log->find("START RequestId: " + id), std::string::npos) << *log;
  EXPECT_NE(log->find("END RequestId: " + id), std::string::npos);
  EXPECT_NE(log->find("REPORT RequestId: " + id), std::string::npos);
  HttpAnswer flood = Invoke("hello", {{"action", "flood"}, {"mib", 2}}, {"X-Amz-Log-Type: Tail"});
  EXPECT_EQ(flood.status, 200);
  EXPECT_LE(Base64Decode(flood.Header("x-amz-log-result"))->size(), 4096u);

  size_t reports = Reports().size();
  HttpAnswer queued =
      Invoke("hello", {{"action", "echo"}, {"async", true}}, {"X-Amz-Invocation-Type: Event"});
  EXPECT_EQ(queued.status, 202);
  EXPECT_EQ(queued.body, "");
  bool ran = false;
  for (int i = 0; i < 100 && !ran; ++i) {
    std::vector<json> now = Reports();
    ran = now.size() > reports && now.back()["outcome"] == "response";
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ran) << "the Event invocation never ran";

  EXPECT_EQ(Invoke("hello", json::object(), {"X-Amz-Invocation-Type: DryRun"}).status, 204);
  EXPECT_EQ(Invoke("nothere", json::object(), {"X-Amz-Invocation-Type: DryRun"}).status, 404);
}

TEST_F(FunctionTest, BadRequestsGetLambdasErrorShapes) {
  HttpAnswer unknown = Invoke("nothere", json::object());
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Header("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_EQ(Json(unknown)["Type"], "User");
  HttpAnswer bad = host_->Invoke("hello", "{\"unterminated");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Header("x-amzn-errortype"), "InvalidRequestContentException");
  HttpAnswer big = host_->Invoke("hello", "\"" + std::string(7 << 20, 'x') + "\"");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.Header("x-amzn-errortype"), "RequestTooLargeException");
  // A response over 6 MB fails the invocation, as in Lambda.
  HttpAnswer huge = Invoke("hello", {{"action", "big"}, {"bytes", 7 << 20}});
  EXPECT_EQ(huge.status, 200);
  EXPECT_EQ(Json(huge)["errorType"], "Function.ResponseSizeTooLarge");
  // The ARN form names the tenant; another tenant's function is not found.
  EXPECT_EQ(Invoke("arn:aws:lambda:us-east-1:acme:function:hello", {{"a", 1}}).status, 200);
  EXPECT_EQ(Invoke("arn:aws:lambda:us-east-1:other:function:hello", {{"a", 1}}).status, 404);
  EXPECT_EQ(Invoke("hello:7", {{"a", 1}}).status, 404);
}

TEST_F(FunctionTest, ConcurrentInvocationsGetTheirOwnSandboxesUpToTheLimit) {
  // Long enough to overlap, well inside hello's 2 s timeout on a loaded
  // machine (the handler's Python takes a few hundred ms to start there).
  auto slow = [](const std::string& function) {
    return std::async(std::launch::async, [function] {
      return Invoke(function, {{"action", "sleep"}, {"seconds", 1.0}});
    });
  };
  std::future<HttpAnswer> a = slow("hello"), b = slow("hello");
  json ja = Json(a.get()), jb = Json(b.get());
  EXPECT_NE(ja["sandbox"], jb["sandbox"]) << ja << jb;

  std::future<HttpAnswer> running = slow("single");
  // Wait until it is running (its START line), then ask for a second one.
  for (int i = 0;
       i < 100 && ReadAll(*dir_ / "logs/acme/single.log").find("START") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  HttpAnswer throttled = Invoke("single", json::object());
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.Header("x-amzn-errortype"), "TooManyRequestsException");
  EXPECT_EQ(Json(throttled)["Reason"], "ConcurrentInvocationLimitExceeded");
  EXPECT_EQ(running.get().status, 200);
  EXPECT_EQ(Invoke("single", json::object()).status, 200);
}

TEST_F(FunctionTest, OutboundNetworkUnlessNone) {
  std::string ip = HostAddress();
  ASSERT_FALSE(ip.empty()) << "the host has no non-loopback IPv4 address";
  int port = FreeLoopbackPorts();
  ScratchDir web("lode-web");
  WriteAll(web / "hello.txt", "from the host");
  pid_t server =
      StartCommand("exec python3 -m http.server " + std::to_string(port) +
                   " --bind 0.0.0.0 --directory " + ShellQuote(web.path()) + " >/dev/null 2>&1");
  for (int i = 0; i < 100 && !LoopbackAccepts(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string url = "http://" + ip + ":" + std::to_string(port) + "/hello.txt";
  json fetched = Json(Invoke("hello", {{"action", "fetch"}, {"url", url}}));
  EXPECT_EQ(fetched["status"], 200) << fetched;
  EXPECT_EQ(fetched["body"], "from the host");
  json offline = Json(Invoke("offline", {{"action", "fetch"}, {"url", url}}));
  EXPECT_TRUE(offline.contains("failed")) << offline;
  // The host's own loopback (its Invoke API, agents, caches) is out of reach.
  std::string loopback = "http://10.0.2.2:" + std::to_string(host_->port()) + "/";
  json inside = Json(Invoke("hello", {{"action", "fetch"}, {"url", loopback}}));
  EXPECT_TRUE(inside.contains("failed")) << inside;
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
}

TEST_F(FunctionTest, ASandboxCannotAnswerAnotherOnesInvocation) {
  std::future<HttpAnswer> victim = std::async(std::launch::async, [] {
    return Invoke("hello", {{"action", "sleep"}, {"seconds", 1.5}, {"victim", true}});
  });
  std::string victim_id;
  for (int i = 0; i < 100 && victim_id.empty(); ++i) {
    std::string log = ReadAll(*dir_ / "logs/acme/hello.log");
    for (size_t at = log.find("START RequestId: "); at != std::string::npos;
         at = log.find("START RequestId: ", at + 1)) {
      victim_id = log.substr(at + 17, 36);
    }
    if (ReportOf(victim_id).is_object()) victim_id.clear();  // an earlier, finished one
    if (victim_id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(victim_id.empty());
  json attack =
      Json(Invoke("hello", {{"action", "post"},
                            {"path", "/2018-06-01/runtime/invocation/" + victim_id + "/response"},
                            {"body", "{\"forged\": true}"}}));
  EXPECT_EQ(attack["status"], 400) << attack;
  json answered = Json(victim.get());
  EXPECT_EQ(answered["event"]["victim"], true) << answered;
  EXPECT_FALSE(answered.contains("forged"));
}

TEST_F(FunctionTest, WarmSandboxesExpire) {
  json first = Json(Invoke("hello", {{"action", "echo"}}));
  std::this_thread::sleep_for(std::chrono::seconds(7));  // --keep-warm 5s, checked every second
  json later = Json(Invoke("hello", {{"action", "echo"}}));
  EXPECT_NE(later["sandbox"], first["sandbox"]);
  EXPECT_EQ(later["count"], 1);
}

// A runtime writing as fast as it can: its log is bounded on disk and the
// host goes on serving other functions meanwhile.
TEST_F(FunctionTest, AFloodingSandboxCostsBoundedDiskAndOthersKeepServing) {
  std::future<HttpAnswer> flood = std::async(std::launch::async, [] {
    return Invoke("offline", {{"action", "flood"}, {"mib", 70}});
  });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Invoke("hello", {{"i", i}}).status, 200);
  EXPECT_EQ(flood.get().status, 200);
  std::string log = *dir_ / "logs/acme/offline.log";
  EXPECT_TRUE(fs::exists(log + ".1"));
  EXPECT_LE(fs::file_size(log), 64u << 20);
  EXPECT_LE(fs::file_size(log + ".1"), 64u << 20);
}

TEST_F(FunctionTest, MetricsCountInvocations) {
  Invoke("hello", {{"action", "echo"}});
  std::string url = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  HttpAnswer m = HttpGet(url);
  ASSERT_EQ(m.status, 200);
  CommandResult lint = RunCommand("curl -sf " + url + " | promtool check metrics");
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  for (const char* line :
       {"lode_function_invocations_total{function=\"acme/hello\",start=\"cold\"} ",
        "lode_function_invocations_total{function=\"acme/hello\",start=\"warm\"} ",
        "lode_function_ends_total{function=\"acme/hello\",outcome=\"timeout\"} ",
        "lode_function_sandboxes{state=\"idle\"} ", "lode_function_init_duration_seconds_count ",
        "lode_function_invoke_duration_seconds_bucket{le=\"+Inf\"} "}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
}

TEST_F(FunctionTest, FunctionsAreManagedPerTenant) {
  CommandResult ls = Lode("function ls --tenant acme --json");
  json all = json::parse(ls.output);
  ASSERT_TRUE(all.is_array());
  EXPECT_EQ(all.size(), 7u);
  EXPECT_EQ(all[0]["name"], "hello");
  EXPECT_EQ(all[0]["timeout_seconds"], 2);
  // Update changes what is given; the next cold start uses it.
  Lode("function update single --tenant acme --env MARK=updated");
  for (int i = 0; i < 30; ++i) {
    json env = Json(Invoke("single", {{"action", "env"}}));
    if (env.value("MARK", "") == "updated") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_LT(i, 29) << "the host never picked up the update";
  }
  CommandResult dup =
      RunCommand(env_ + LodeBinary() + " function create hello --image boot --tenant acme");
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.output.find("exists"), std::string::npos) << dup.output;
  CommandResult reserved = RunCommand(
      env_ + LodeBinary() + " function create x --image boot --tenant acme --env AWS_REGION=x");
  EXPECT_EQ(reserved.exit_code, 1);
  CommandResult no_image =
      RunCommand(env_ + LodeBinary() + " function create x --image nosuchtag --tenant acme");
  EXPECT_EQ(no_image.exit_code, 1);
  Lode("function create doomed --image boot --tenant acme");
  Lode("function rm doomed --tenant acme");
  EXPECT_EQ(Invoke("doomed", json::object()).status, 404);
  CommandResult tags = Lode("ls --tenant acme");
  EXPECT_EQ(tags.output.find("function.doomed"), std::string::npos);
  EXPECT_NE(tags.output.find("function.hello"), std::string::npos);
}

// A fleet: two hosts (each with its own agent) behind HAProxy, which
// hashes the function name to a host, so warm sandboxes are found again,
// and sends invocations to the other host when one stops.
TEST_F(FunctionTest, TwoHostsBehindHaproxy) {
  ScratchDir fleet("lode-fn-fleet");
  std::vector<std::unique_ptr<ServeProcess>> hosts;
  for (const char* name : {"a", "b"}) {
    fs::create_directories(fleet / name);
    hosts.push_back(std::make_unique<ServeProcess>(
        fleet / name, env_ + "TMPDIR=" + (fleet / name) + " ",
        "--tenant acme --cache " + ShellQuote(fleet / name + "/cache") + " --log-dir " +
            ShellQuote(fleet / name + "/logs")));
    ASSERT_TRUE(hosts.back()->Start()) << hosts.back()->log();
  }
  int port = FreeLoopbackPorts();
  WriteAll(fleet / "haproxy.cfg",
           "global\n  maxconn 256\n"
           "defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n"
           "  timeout server 30s\n  retries 3\n  option redispatch\n"
           "  retry-on conn-failure empty-response 503\n  option http-buffer-request\n"
           "frontend invoke\n  bind 127.0.0.1:" +
               std::to_string(port) +
               "\n"
               "  default_backend hosts\n"
               "backend hosts\n  balance uri path-only depth 3\n  hash-type consistent\n"
               "  server a 127.0.0.1:" +
               std::to_string(hosts[0]->port()) +
               " check inter 300ms fall 1 rise 1\n"
               "  server b 127.0.0.1:" +
               std::to_string(hosts[1]->port()) + " check inter 300ms fall 1 rise 1\n");
  pid_t haproxy = StartCommand("exec haproxy -db -f " + ShellQuote(fleet / "haproxy.cfg") + " >" +
                               ShellQuote(fleet / "haproxy.log") + " 2>&1");
  for (int i = 0; i < 100 && !LoopbackAccepts(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string url =
      "http://127.0.0.1:" + std::to_string(port) + "/2015-03-31/functions/hello/invocations";
  auto invoke = [&] {
    HttpAnswer a = HttpPost(url, "{}");
    EXPECT_EQ(a.status, 200) << a.body << ReadAll(fleet / "haproxy.log");
    return Json(a);
  };
  json first = invoke();
  for (int i = 2; i <= 4; ++i) {
    json next = invoke();
    EXPECT_EQ(next["sandbox"], first["sandbox"]) << "the same host's warm sandbox";
    EXPECT_EQ(next["count"], i);
  }
  // The host that served it stops; the other one takes the function over.
  size_t served = ReadAll(fleet / "a/logs/acme/hello.log").empty() ? 1 : 0;
  EXPECT_EQ(hosts[served]->Stop(SIGTERM), 0);
  json moved = invoke();
  EXPECT_NE(moved["sandbox"], first["sandbox"]);
  EXPECT_EQ(moved["count"], 1);
  EXPECT_EQ(invoke()["sandbox"], moved["sandbox"]);
  EXPECT_FALSE(ReadAll(fleet / (served == 0 ? "b" : "a") + "/logs/acme/hello.log").empty());
  ::kill(haproxy, SIGTERM);
  ::waitpid(haproxy, nullptr, 0);
}

// The agent is replaced (lode agent --upgrade, then a crash and restart)
// under a warm sandbox and an invocation in flight: no invocation fails.
TEST_F(FunctionTest, TheAgentCanBeReplacedUnderRunningSandboxes) {
  ScratchDir own("lode-fn-handover");
  fs::create_directories(own / "agent");
  AgentProcess agent(own / "agent", env_);
  ASSERT_TRUE(agent.Start()) << agent.log();
  ServeProcess host(own.path(), env_ + "TMPDIR=" + own.path() + " ",
                    "--tenant acme --socket " + ShellQuote(agent.socket()) + " --log-dir " +
                        ShellQuote(own / "logs"));
  ASSERT_TRUE(host.Start()) << host.log();
  json first = Json(host.Invoke("node", "{}"));
  ASSERT_EQ(host.Invoke("hello", "{}").status, 200);
  std::future<HttpAnswer> in_flight = std::async(std::launch::async, [&] {
    return host.Invoke("hello", json{{"action", "sleep"}, {"seconds", 1}}.dump());
  });
  ASSERT_TRUE(agent.Upgrade()) << agent.log();
  EXPECT_EQ(in_flight.get().status, 200);
  json after = Json(host.Invoke("node", json{{"action", "env"}}.dump()));
  EXPECT_EQ(after["AWS_LAMBDA_FUNCTION_NAME"], "node");
  // No agent for a moment: a cold start waits for the next one.
  agent.Kill();
  std::future<HttpAnswer> cold =
      std::async(std::launch::async, [&] { return host.Invoke("offline", "{}"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(agent.Start()) << agent.log();
  HttpAnswer cold_answer = cold.get();
  EXPECT_EQ(cold_answer.status, 200) << cold_answer.body;
  json again = Json(host.Invoke("node", "{}"));
  EXPECT_EQ(again["sandbox"], first["sandbox"]);
  EXPECT_EQ(again["count"], 3);
  EXPECT_EQ(host.Stop(SIGTERM), 0);
}

// AWS's own SDK for JavaScript (v3, from npm, run by the machine's node)
// invokes lode as it invokes Lambda, errors mapped to its exception types.
constexpr const char* kSdkScript = R"JS(
import { LambdaClient, InvokeCommand } from "@aws-sdk/client-lambda";
const lambda = new LambdaClient({ endpoint: process.argv[2], region: "us-east-1",
  credentials: { accessKeyId: "unused", secretAccessKey: "unused" } });
const text = (bytes) => Buffer.from(bytes).toString();
const out = {};
let r = await lambda.send(new InvokeCommand({ FunctionName: "node", LogType: "Tail",
  Payload: JSON.stringify({ from: "sdk" }) }));
out.ok = { status: r.StatusCode, error: r.FunctionError ?? null, payload: JSON.parse(text(r.Payload)),
  log: Buffer.from(r.LogResult, "base64").toString() };
r = await lambda.send(new InvokeCommand({ FunctionName: "node", Payload: '{"action": "error"}' }));
out.failed = { status: r.StatusCode, error: r.FunctionError, payload: JSON.parse(text(r.Payload)) };
out.event = (await lambda.send(new InvokeCommand({ FunctionName: "node", InvocationType: "Event" }))).StatusCode;
out.dryrun = (await lambda.send(new InvokeCommand({ FunctionName: "node", InvocationType: "DryRun" }))).StatusCode;
for (const [name, payload] of [["nothere", "{}"], ["node", "[" + "1,".repeat(4 << 20) + "1]"]]) {
  try { await lambda.send(new InvokeCommand({ FunctionName: name, Payload: payload })); }
  catch (e) { out[name === "node" ? "too_large" : "not_found"] = { name: e.name, status: e.$metadata.httpStatusCode }; }
}
console.log(JSON.stringify(out));
)JS";

TEST_F(FunctionTest, AwsSdkInvokesLode) {
  if (RunCommand("command -v node && command -v npm").exit_code != 0) {
    GTEST_SKIP() << "no node and npm on this machine for AWS's SDK";
  }
  std::string sdk = TestCacheDir() + "/aws-sdk-js";
  if (!fs::exists(sdk + "/node_modules/@aws-sdk/client-lambda")) {
    fs::create_directories(sdk);
    CommandResult installed = RunCommand("cd " + ShellQuote(sdk) +
                                         " && npm install --no-audit --no-fund --silent "
                                         "@aws-sdk/client-lambda@3.1164.0");
    ASSERT_EQ(installed.exit_code, 0) << installed.output;
  }
  WriteAll(sdk + "/invoke.mjs", kSdkScript);
  // In a subshell: RunCommand's own 2>&1 would win over ours (the SDK warns
  // about the node version on stderr).
  CommandResult run =
      RunCommand("(cd " + ShellQuote(sdk) + " && node invoke.mjs http://127.0.0.1:" +
                 std::to_string(host_->port()) + " 2>/dev/null)");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json out = json::parse(run.output, nullptr, false);
  ASSERT_TRUE(out.is_object()) << run.output;
  EXPECT_EQ(out["ok"]["status"], 200);
  EXPECT_TRUE(out["ok"]["error"].is_null());
  EXPECT_EQ(out["ok"]["payload"]["event"], json({{"from", "sdk"}}));
  EXPECT_NE(out["ok"]["log"].get<std::string>().find("START RequestId: "), std::string::npos);
  EXPECT_EQ(out["failed"]["status"], 200);
  EXPECT_EQ(out["failed"]["error"], "Unhandled");
  EXPECT_EQ(out["failed"]["payload"]["errorType"], "Error");
  EXPECT_EQ(out["event"], 202);
  EXPECT_EQ(out["dryrun"], 204);
  EXPECT_EQ(out["not_found"]["name"], "ResourceNotFoundException");
  EXPECT_EQ(out["not_found"]["status"], 404);
  EXPECT_EQ(out["too_large"]["name"], "RequestTooLargeException");
  EXPECT_EQ(out["too_large"]["status"], 413);
}

// What a host (pid `host`, files under `dir`) leaves when it ends: its
// sandboxes' processes (in their cgroups), crun, slirp4netns, its agent,
// loop devices.
std::string Leftovers(pid_t host, const std::string& dir) {
  std::string sandbox = "lode-fn-" + std::to_string(host) + "-";
  std::string out =
      RunCommand("(cat /sys/fs/cgroup/memory/lode/" + sandbox + "*/cgroup.procs 2>/dev/null)")
          .output;
  out += RunCommand("ps -eo pid,args | grep -E -e " + ShellQuote(sandbox) + " -e " +
                    ShellQuote("/proc/" + std::to_string(host) + "/fd/") + " -e " +
                    ShellQuote(dir) + " | grep -v grep")
             .output;
  out += RunCommand("losetup -a | grep -F " + ShellQuote(dir)).output;
  return out;
}

// Leftovers, given up to 5 s to go (the kernel ends a namespace's
// processes, the agent's FUSE holder follows the agent).
std::string AwaitNoLeftovers(pid_t host, const std::string& dir) {
  std::string left;
  for (int i = 0; i < 50; ++i) {
    left = Leftovers(host, dir);
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

TEST_F(FunctionTest, SigtermDrainsThenStopsEverySandbox) {
  ScratchDir own("lode-fn-drain");
  ServeProcess host(own.path(), env_ + "TMPDIR=" + own.path() + " ",
                    "--tenant acme --cache " + ShellQuote(own / "cache") + " --log-dir " +
                        ShellQuote(own / "logs"));
  ASSERT_TRUE(host.Start()) << host.log();
  ASSERT_EQ(host.Invoke("hello", "{}").status, 200);  // a warm sandbox
  std::future<HttpAnswer> running = std::async(std::launch::async, [&] {
    return host.Invoke("hello", json{{"action", "sleep"}, {"seconds", 1.5}}.dump());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::future<int> stopped = std::async(std::launch::async, [&] { return host.Stop(SIGTERM); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpAnswer refused = host.Invoke("hello", "{}");
  EXPECT_EQ(refused.status, 503) << refused.body;
  HttpAnswer finished = running.get();
  EXPECT_EQ(finished.status, 200);
  EXPECT_EQ(finished.Header("x-amz-function-error"), "") << finished.body;
  pid_t pid = host.pid();
  EXPECT_EQ(stopped.get(), 0) << host.log();
  EXPECT_NE(host.log().find("draining"), std::string::npos);
  EXPECT_EQ(AwaitNoLeftovers(pid, own.path()), "");
}

TEST_F(FunctionTest, AKilledHostLeavesNothingBehind) {
  ScratchDir own("lode-fn-kill");
  ServeProcess host(own.path(), env_ + "TMPDIR=" + own.path() + " ",
                    "--tenant acme --cache " + ShellQuote(own / "cache") + " --log-dir " +
                        ShellQuote(own / "logs"));
  ASSERT_TRUE(host.Start()) << host.log();
  ASSERT_EQ(host.Invoke("hello", "{}").status, 200);
  std::future<HttpAnswer> running = std::async(std::launch::async, [&] {
    return host.Invoke("offline", json{{"action", "sleep"}, {"seconds", 30}}.dump());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  pid_t pid = host.pid();
  EXPECT_NE(Leftovers(pid, own.path()), "");  // the check sees a live host's sandbox
  EXPECT_EQ(host.Stop(SIGKILL), 128 + SIGKILL);
  running.get();
  EXPECT_EQ(AwaitNoLeftovers(pid, own.path()), "");
}

}  // namespace
}  // namespace lode::testing
