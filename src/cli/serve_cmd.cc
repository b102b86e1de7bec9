// lode serve: the function host. Lambda's Invoke API on --listen, a
// sandbox per concurrent invocation of a function, kept warm for the next
// ones; SIGTERM drains (running invocations end, new ones get 503) and
// stops every sandbox.
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/output.h"
#include "cli/session.h"
#include "functions/host.h"
#include "functions/http_server.h"
#include "functions/invoke_api.h"
#include "functions/runtime_api.h"
#include "sandbox/lifetime.h"
#include "sandbox/mount.h"
#include "util/file.h"
#include "util/size.h"

namespace lode::cli {
namespace {

struct ServeArgs {
  AgentDaemonArgs agent;
  std::string socket, listen = "127.0.0.1:9000", metrics_listen, region = "us-east-1";
  std::string log_dir, keep_warm = "10m";
  std::vector<std::string> tenants;
  int max_concurrency = 32, max_function_concurrency = 0;
  double init_timeout = 10;
  std::string kernel, accel = "auto";
};

void Serve(const ServeArgs& a) {
  Check(sandbox::EnterPrivateMountNamespace());
  // Sandboxes end with this process, even when it is killed.
  std::unique_ptr<sandbox::PidNamespace> sandboxes = Check(sandbox::PidNamespace::Create());
  RunDir dir;
  SessionAgent agent = ReachAgent(a.socket, a.agent, dir.path());

  functions::HostOptions o;
  o.store = a.agent.store.Open();
  o.keys = a.agent.keys.Open();
  o.agent_socket = agent.socket;
  o.pid_namespace = sandboxes->fd();
  o.tenants = a.tenants;
  o.region = a.region;
  o.max_sandboxes = a.max_concurrency;
  o.max_function_concurrency = a.max_function_concurrency;
  o.keep_warm = std::chrono::seconds(ParseDuration(a.keep_warm));
  o.init_timeout = std::chrono::milliseconds(static_cast<int64_t>(a.init_timeout * 1000));
  o.work_dir = dir.path() + "/sandboxes";
  o.log_dir = a.log_dir.empty() ? DataDir() + "/functions/logs" : a.log_dir;
  o.prefetch = a.agent.prefetch != "off";
  Result<functions::VmSandboxSettings> vms = PlanFunctionVms(a.kernel, a.accel, "serve");
  if (vms.ok()) {
    o.vm = *vms;
  } else {
    o.vm_unavailable = vms.status().message();
    std::fprintf(stderr, "lode serve: no microVM sandboxes: %s\n", o.vm_unavailable.c_str());
  }
  std::unique_ptr<functions::Host> host = Check(functions::Host::Start(o));

  functions::HttpServer::Options http;
  http.max_body = functions::kMaxPayloadBytes + 1;
  http.idle_timeout_seconds = 120;
  functions::Host* h = host.get();
  auto invoke_api = Check(functions::HttpServer::Listen(
      a.listen, http, [h](const functions::HttpRequest& r) { return AnswerInvokeApi(*h, r); }));
  std::unique_ptr<functions::HttpServer> metrics;
  if (!a.metrics_listen.empty()) {
    metrics = Check(functions::HttpServer::Listen(
        a.metrics_listen, {}, [h](const functions::HttpRequest& r) -> functions::HttpResponse {
          if (r.path != "/metrics") return {404, {{"Content-Type", "text/plain"}}, "not found\n"};
          return {200, {{"Content-Type", "text/plain; version=0.0.4"}}, h->Metrics()};
        }));
  }
  std::string where =
      a.listen.substr(0, a.listen.rfind(':') + 1) + std::to_string(invoke_api->port());
  std::fprintf(stderr, "lode serve: serving %zu tenant(s) on %s%s\n", a.tenants.size(),
               where.c_str(), agent.private_agent ? " (with a private agent)" : "");
  int signal = AwaitStopSignal();
  std::fprintf(stderr, "lode serve: %s: draining\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  host->Drain();
  invoke_api->Finish(std::chrono::seconds(5));  // the last answers reach their callers
  invoke_api.reset();
  metrics.reset();
  host.reset();
  std::fprintf(stderr, "lode serve: stopped\n");
}

}  // namespace

void RegisterServe(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "The function host: Lambda's Invoke API, functions in warm and cold sandboxes");
  cmd->add_option("--listen", a->listen, "HOST:PORT of the Invoke API (port 0: any free one)")
      ->capture_default_str();
  cmd->add_option("--tenant", a->tenants,
                  "tenant whose functions this host serves (repeatable; plain function names "
                  "are the first one's)")
      ->required();
  cmd->add_option("--metrics-listen", a->metrics_listen,
                  "HOST:PORT for Prometheus metrics at /metrics");
  cmd->add_option("--keep-warm", a->keep_warm,
                  "how long an idle sandbox stays warm (90s, 10m, 2h, 1d)")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", a->max_concurrency,
                  "most sandboxes on this host, warm ones included")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-function-concurrency", a->max_function_concurrency,
                  "most sandboxes of one function (0: --max-concurrency)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--init-timeout", a->init_timeout, "seconds a runtime may take to initialize")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 900.0));
  cmd->add_option("--kernel", a->kernel,
                  "guest kernel of functions that run in microVMs (default: the newest "
                  "/boot/vmlinuz-*)");
  cmd->add_option("--accel", a->accel, "their accelerator: auto, kvm or tcg")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_option("--region", a->region, "AWS_REGION of the sandboxes and the functions' ARNs")
      ->capture_default_str();
  cmd->add_option("--log-dir", a->log_dir,
                  "function logs (TENANT/FUNCTION.log) and REPORT records (reports.jsonl); "
                  "default in the data directory");
  AddSocketOption(cmd, a->socket);
  a->agent.Add(cmd, /*private_agent=*/true);
  cmd->callback([a] { Serve(*a); });
}

}  // namespace lode::cli
