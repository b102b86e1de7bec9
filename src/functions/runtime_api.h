// The Lambda Runtime API (2018-06-01) one sandbox's runtime talks to: it
// asks for the next event, posts that event's response or error, or
// reports that its initialization failed; a SnapStart runtime also asks
// for `restore/next` (before the snapshot, answered after each restore)
// and may report that its after-restore hooks failed (`restore/error`). One RuntimeApi per sandbox,
// so a runtime can only ever see its own events and answer its own request ids. The function host
// hands it invocations and waits for their ends. Thread-safe: HTTP threads call Handle, the host
// calls the rest.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "functions/http_server.h"

namespace lode::functions {

constexpr size_t kMaxPayloadBytes = 6 * 1024 * 1024;  // request and response, as in Lambda

using Clock = std::chrono::steady_clock;

// An event on its way to a runtime.
struct Invocation {
  std::string request_id;
  std::string payload;
  std::string client_context;    // as the caller sent it (base64 JSON), or ""
  std::string cognito_identity;  // JSON, or ""
  std::string trace_id;
  std::chrono::milliseconds timeout{3000};
};

enum class Outcome {
  kResponse,       // the runtime posted a response
  kFunctionError,  // it posted an error (or a response that ended in one)
  kTimedOut,       // no answer before the deadline
  kExited,         // the runtime ended (or crashed) before answering
  kInitError,      // initialization failed (init/error, exit, or init timeout)
};

struct InvocationEnd {
  Outcome outcome = Outcome::kResponse;
  std::string body;               // the payload, or Lambda's error document
  std::string error_type;         // for errors: errorType, as Lambda reports it
  Clock::time_point delivered{};  // when the runtime received the event
  Clock::time_point ended{};
};

// Where a SnapStart sandbox is in its life.
enum class SnapStartPhase {
  kNone,        // an on-demand sandbox
  kPublishing,  // booted to be snapshotted once its runtime is initialized
  kRestored,    // restored from that snapshot
};

class RuntimeApi {
 public:
  // `function_arn` goes to runtimes in Lambda-Runtime-Invoked-Function-Arn.
  explicit RuntimeApi(std::string function_arn, SnapStartPhase phase = SnapStartPhase::kNone)
      : function_arn_(std::move(function_arn)), phase_(phase) {}

  // Answers one request of the runtime; blocks in `next` until an event
  // comes or the API is closed.
  HttpResponse Handle(const HttpRequest& request);

  // Waits until the runtime asks for its first event (nullopt: ready), or
  // its initialization ends otherwise or takes longer than `limit` (the
  // end says how; the API is closed then).
  std::optional<InvocationEnd> AwaitInit(std::chrono::milliseconds limit);

  // Publishing: waits until the runtime is initialized and ready to be
  // snapshotted: it asked for `restore/next` (its before-snapshot hooks
  // ran) or, a runtime without hooks, for its first event. The request is
  // never answered here: it waits in the snapshot and the restored
  // sandbox's API answers it. nullopt when ready; else how init ended.
  std::optional<InvocationEnd> AwaitSnapshotPoint(std::chrono::milliseconds limit);
  // Whether the runtime asked for `restore/next` (it has runtime hooks).
  bool has_restore_hooks() const;

  // Hands `invocation` to the runtime and waits for its end. The timeout
  // runs from now. Only one invocation at a time.
  InvocationEnd Invoke(const Invocation& invocation);

  // Ends the API: waiting calls return, `why` (a Runtime.ExitError
  // message) ends an invocation in flight or an init still running.
  void Close(const std::string& why);

 private:
  enum class State { kInit, kReady, kBusy, kClosed };
  HttpResponse Next();
  HttpResponse Answer(const std::string& request_id, bool error, const HttpRequest& request);
  HttpResponse InitError(const HttpRequest& request);
  HttpResponse RestoreNext();
  HttpResponse RestoreError(const HttpRequest& request);
  // Publishing: the runtime reached its snapshot point; its request waits.
  HttpResponse HoldForSnapshot(bool hooks);
  void EndLocked(Outcome outcome, std::string body, std::string error_type);

  const std::string function_arn_;
  const SnapStartPhase phase_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  State state_ = State::kInit;
  std::optional<Invocation> pending_;  // handed over, not yet taken by `next`
  std::string current_id_;             // taken by `next`, not yet answered
  std::string last_answered_;
  std::optional<InvocationEnd> end_;  // of the current invocation or of init
  Clock::time_point delivered_{};
  std::string closed_why_;
  bool snapshot_point_ = false;
  bool restore_hooks_ = false;
};

// Lambda's error document: {"errorMessage": ..., "errorType": ...}.
std::string ErrorDocument(const std::string& type, const std::string& message);

// A new request id: a version 4 UUID, as Lambda's are.
std::string NewRequestId();
// A new X-Ray trace header value (Root=1-..., not sampled).
std::string NewTraceId();

}  // namespace lode::functions
