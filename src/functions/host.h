// The function host: serves invocations of the functions of its tenants
// (read from the store, so any host serves any function) in sandboxes it
// starts on demand (cold starts) and keeps warm for the next invocations
// of the same function, up to its concurrency limits, for `keep_warm`.
// It keeps no state but its warm sandboxes: hosts behind a load balancer
// that routes by function name are a fleet. Knows nothing of HTTP
// (invoke_api.h maps Lambda's Invoke API onto it). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "functions/sandbox.h"
#include "keys/key_service.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::functions {

struct HostOptions {
  std::shared_ptr<store::ObjectStore> store;
  std::shared_ptr<keys::KeyService> keys;
  std::string agent_socket;
  int pid_namespace = -1;  // sandbox::PidNamespace the sandboxes live in
  // The tenants served; a plain function name is the first one's, an ARN
  // names its tenant in the account field.
  std::vector<std::string> tenants;
  std::string region = "us-east-1";
  int max_sandboxes = 32;            // live sandboxes on the host, warm ones included
  int max_function_concurrency = 0;  // sandboxes per function; 0: max_sandboxes
  std::chrono::seconds keep_warm{600};
  std::chrono::milliseconds init_timeout{10000};
  std::string work_dir;  // the sandboxes' directories
  std::string log_dir;   // <tenant>/<function>.log and reports.jsonl
  bool prefetch = true;
  size_t max_queued_events = 10000;
  // For functions whose sandbox is "vm"; when absent, why not.
  std::optional<VmSandboxSettings> vm;
  std::string vm_unavailable;
};

struct InvokeRequest {
  std::string function;  // NAME, NAME:$LATEST, or an ARN
  std::string payload;
  std::string client_context;  // base64, as callers send it
  std::string cognito_identity;
  std::string trace_id;  // X-Amzn-Trace-Id; one is made when empty
  bool tail_log = false;
};

enum class InvokeStatus {
  kDone,        // it ran: a response or a function error
  kAccepted,    // queued (Event)
  kNotFound,    // no such function
  kThrottled,   // over a concurrency limit
  kDraining,    // the host is shutting down
  kTooLarge,    // payload over 6 MB
  kStartFailed  // the sandbox could not be started (image, agent, crun)
};

struct InvokeResult {
  InvokeStatus status = InvokeStatus::kDone;
  std::string request_id;
  std::string function_arn;
  std::string payload;          // the response, or Lambda's error document
  bool function_error = false;  // X-Amz-Function-Error: Unhandled
  std::string log_tail;         // last 4 KB of the invocation's log, when asked
  std::string message;          // why, for statuses other than kDone/kAccepted
};

class Host {
 public:
  static Result<std::unique_ptr<Host>> Start(HostOptions options);
  // Drains (see Drain) and stops.
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // RequestResponse: runs the invocation and returns its end.
  InvokeResult Invoke(const InvokeRequest& request);
  // Event: checks the function and queues the invocation (kAccepted).
  InvokeResult Enqueue(const InvokeRequest& request);
  // DryRun: kDone when the function exists.
  InvokeResult Check(const InvokeRequest& request);

  // Refuses new invocations (kDraining), waits for those running and
  // queued to end, then discards every sandbox.
  void Drain();
  // Prometheus text (docs/formats/functions.md).
  std::string Metrics();

  class Impl;

 private:
  explicit Host(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The tail Lambda returns in X-Amz-Log-Result: the last `max` bytes.
std::string LogTail(const std::string& log, size_t max = 4096);

}  // namespace lode::functions
