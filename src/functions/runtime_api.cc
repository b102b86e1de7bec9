#include "functions/runtime_api.h"

#include <sys/random.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "util/base64.h"
#include "util/sha256.h"
#include "util/text.h"

namespace lode::functions {
namespace {

using nlohmann::json;

constexpr const char* kPrefix = "/2018-06-01/runtime/";

HttpResponse JsonAnswer(int status, std::string body) {
  return {status, {{"Content-Type", "application/json"}}, std::move(body)};
}

HttpResponse Refuse(int status, const std::string& type, const std::string& message) {
  return JsonAnswer(status, ErrorDocument(type, message));
}

HttpResponse Accepted() { return JsonAnswer(202, R"({"status":"OK"})"); }

std::string RandomHex(size_t bytes) {
  std::vector<uint8_t> b(bytes);
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(b.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return ToHex(b);
}

int64_t EpochMillisIn(std::chrono::milliseconds from_now) {
  auto at = std::chrono::system_clock::now() + from_now;
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

std::string Seconds2(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", static_cast<double>(d.count()) / 1000.0);
  return text;
}

// What a runtime posted as an error: its JSON document as it is, or one
// made of the text and the error type header.
std::string ErrorBody(const std::string& posted, const std::string& type_header) {
  json doc = json::parse(posted, nullptr, false);
  if (!doc.is_discarded() && doc.is_object()) return posted;
  return ErrorDocument(type_header.empty() ? "Runtime.Unknown" : type_header, posted);
}

std::string ErrorTypeOf(const std::string& body, const std::string& type_header) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("errorType") && doc["errorType"].is_string()) {
    return doc["errorType"];
  }
  return type_header.empty() ? "Runtime.Unknown" : type_header;
}

InvocationEnd InitTimedOut(std::chrono::milliseconds limit) {
  return InvocationEnd{
      Outcome::kInitError,
      ErrorDocument("Sandbox.Timedout", "Init timed out after " + Seconds2(limit) + " seconds"),
      "Sandbox.Timedout",
      {},
      Clock::now()};
}

}  // namespace

std::string ErrorDocument(const std::string& type, const std::string& message) {
  return json{{"errorMessage", message}, {"errorType", type}}.dump();
}

HttpResponse RuntimeApi::Handle(const HttpRequest& r) {
  std::string path = r.path;
  if (path.rfind(kPrefix, 0) != 0) return Refuse(404, "InvalidRoute", "no such route " + path);
  path = path.substr(std::string(kPrefix).size());
  if (r.method == "GET" && path == "invocation/next") {
    if (phase_ == SnapStartPhase::kPublishing) return HoldForSnapshot(false);
    return Next();
  }
  if (r.method == "POST" && path == "init/error") return InitError(r);
  if (r.method == "GET" && path == "restore/next") {
    if (phase_ == SnapStartPhase::kPublishing) return HoldForSnapshot(true);
    return RestoreNext();
  }
  if (r.method == "POST" && path == "restore/error") return RestoreError(r);
  const std::string invocation = "invocation/";
  if (r.method == "POST" && path.rfind(invocation, 0) == 0) {
    std::string rest = path.substr(invocation.size());
    size_t slash = rest.find('/');
    std::string id = rest.substr(0, slash),
                verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (verb == "response" || verb == "error") return Answer(id, verb == "error", r);
  }
  return Refuse(404, "InvalidRoute", "no such route " + r.method + " " + r.path);
}

HttpResponse RuntimeApi::Next() {
  std::unique_lock lock(mu_);
  if (state_ == State::kBusy) {  // moved on without answering the last event
    EndLocked(Outcome::kFunctionError,
              ErrorDocument("Runtime.InvalidStateTransition",
                            "RequestId: " + current_id_ +
                                " Error: the runtime asked for the next event before answering"),
              "Runtime.InvalidStateTransition");
  }
  if (state_ == State::kInit) state_ = State::kReady;
  changed_.notify_all();
  changed_.wait(lock, [&] { return pending_.has_value() || state_ == State::kClosed; });
  if (state_ == State::kClosed) {
    return Refuse(410, "Sandbox.Closed", "this sandbox is shutting down");
  }
  Invocation inv = std::move(*pending_);
  pending_.reset();
  state_ = State::kBusy;
  current_id_ = inv.request_id;
  delivered_ = Clock::now();
  HttpResponse answer = JsonAnswer(200, std::move(inv.payload));
  answer.headers.emplace_back("Lambda-Runtime-Aws-Request-Id", inv.request_id);
  answer.headers.emplace_back("Lambda-Runtime-Deadline-Ms",
                              std::to_string(EpochMillisIn(inv.timeout)));
  answer.headers.emplace_back("Lambda-Runtime-Invoked-Function-Arn", function_arn_);
  answer.headers.emplace_back("Lambda-Runtime-Trace-Id", inv.trace_id);
  if (!inv.client_context.empty()) {
    std::optional<std::string> context = Base64Decode(inv.client_context);
    if (context) answer.headers.emplace_back("Lambda-Runtime-Client-Context", *context);
  }
  if (!inv.cognito_identity.empty()) {
    answer.headers.emplace_back("Lambda-Runtime-Cognito-Identity", inv.cognito_identity);
  }
  return answer;
}

HttpResponse RuntimeApi::Answer(const std::string& request_id, bool error, const HttpRequest& r) {
  std::lock_guard lock(mu_);
  if (state_ != State::kBusy || request_id != current_id_) {
    if (!request_id.empty() && request_id == last_answered_) {
      return Refuse(403, "InvalidStateTransition",
                    "request " + Excerpt(request_id, 64) + " was already answered");
    }
    return Refuse(400, "InvalidRequestID", "Invalid request ID");
  }
  last_answered_ = current_id_;
  std::string type_header = r.Header("lambda-runtime-function-error-type");
  if (r.body_too_large) {
    EndLocked(Outcome::kFunctionError,
              ErrorDocument("Function.ResponseSizeTooLarge",
                            "Response payload size exceeded maximum allowed payload size (" +
                                std::to_string(kMaxPayloadBytes) + " bytes)."),
              "Function.ResponseSizeTooLarge");
    return Refuse(
        413, "RequestEntityTooLarge",
        "Exceeded maximum allowed payload size (" + std::to_string(kMaxPayloadBytes) + " bytes).");
  }
  // A streamed response reports an error that happened midway in trailers.
  std::string trailer_type = r.trailers.count("lambda-runtime-function-error-type")
                                 ? r.trailers.at("lambda-runtime-function-error-type")
                                 : "";
  if (error) {
    std::string body = ErrorBody(r.body, type_header);
    EndLocked(Outcome::kFunctionError, body, ErrorTypeOf(body, type_header));
  } else if (!trailer_type.empty()) {
    std::string encoded = r.trailers.count("lambda-runtime-function-error-body")
                              ? r.trailers.at("lambda-runtime-function-error-body")
                              : "";
    std::string body = ErrorBody(Base64Decode(encoded).value_or(""), trailer_type);
    EndLocked(Outcome::kFunctionError, body, ErrorTypeOf(body, trailer_type));
  } else {
    EndLocked(Outcome::kResponse, r.body, "");
  }
  return Accepted();
}

HttpResponse RuntimeApi::InitError(const HttpRequest& r) {
  std::lock_guard lock(mu_);
  if (state_ != State::kInit) {
    return Refuse(403, "InvalidStateTransition", "initialization has already ended");
  }
  std::string type_header = r.Header("lambda-runtime-function-error-type");
  std::string body = ErrorBody(r.body, type_header);
  end_ = InvocationEnd{Outcome::kInitError, body, ErrorTypeOf(body, type_header), {}, Clock::now()};
  state_ = State::kClosed;
  changed_.notify_all();
  return Accepted();
}

HttpResponse RuntimeApi::HoldForSnapshot(bool hooks) {
  std::unique_lock lock(mu_);
  if (state_ != State::kInit) {
    return Refuse(403, "InvalidStateTransition", "initialization has already ended");
  }
  snapshot_point_ = true;
  restore_hooks_ = hooks;
  changed_.notify_all();
  // Never answered by this API: the VM is saved with the request waiting.
  changed_.wait(lock, [&] { return state_ == State::kClosed; });
  return Refuse(410, "Sandbox.Closed", "this sandbox is shutting down");
}

// The first request of a restored runtime with hooks: answered at once,
// and its after-restore hooks run; `invocation/next` follows.
HttpResponse RuntimeApi::RestoreNext() {
  std::lock_guard lock(mu_);
  if (phase_ != SnapStartPhase::kRestored || state_ != State::kInit || restore_hooks_) {
    return Refuse(403, "InvalidStateTransition",
                  "restore/next is a restored SnapStart runtime's first request");
  }
  restore_hooks_ = true;
  return JsonAnswer(200, "{}");
}

HttpResponse RuntimeApi::RestoreError(const HttpRequest& r) {
  if (phase_ != SnapStartPhase::kRestored) {
    return Refuse(403, "InvalidStateTransition", "this sandbox was not restored from a snapshot");
  }
  return InitError(r);
}

std::optional<InvocationEnd> RuntimeApi::AwaitSnapshotPoint(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  bool ended =
      changed_.wait_for(lock, limit, [&] { return snapshot_point_ || state_ != State::kInit; });
  if (snapshot_point_) return std::nullopt;
  if (!ended) {
    state_ = State::kClosed;
    changed_.notify_all();
    return InitTimedOut(limit);
  }
  lock.unlock();
  return AwaitInit(limit);  // it ended otherwise: says how, at once
}

bool RuntimeApi::has_restore_hooks() const {
  std::lock_guard lock(mu_);
  return restore_hooks_;
}

void RuntimeApi::EndLocked(Outcome outcome, std::string body, std::string error_type) {
  end_ = InvocationEnd{outcome, std::move(body), std::move(error_type), delivered_, Clock::now()};
  current_id_.clear();
  if (state_ == State::kBusy) state_ = State::kReady;
  changed_.notify_all();
}

std::optional<InvocationEnd> RuntimeApi::AwaitInit(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  bool ended = changed_.wait_for(lock, limit, [&] { return state_ != State::kInit; });
  if (!ended) {
    state_ = State::kClosed;
    changed_.notify_all();
    return InitTimedOut(limit);
  }
  if (state_ != State::kClosed) return std::nullopt;
  if (end_) return end_;
  return InvocationEnd{Outcome::kInitError,
                       ErrorDocument("Runtime.ExitError", "Error: " + closed_why_),
                       "Runtime.ExitError",
                       {},
                       Clock::now()};
}

InvocationEnd RuntimeApi::Invoke(const Invocation& inv) {
  std::unique_lock lock(mu_);
  auto exited = [&] {
    return InvocationEnd{Outcome::kExited,
                         ErrorDocument("Runtime.ExitError",
                                       "RequestId: " + inv.request_id + " Error: " + closed_why_),
                         "Runtime.ExitError", delivered_, Clock::now()};
  };
  if (state_ == State::kClosed) return exited();
  end_.reset();
  pending_ = inv;
  changed_.notify_all();
  Clock::time_point deadline = Clock::now() + inv.timeout;
  bool done = changed_.wait_until(lock, deadline,
                                  [&] { return end_.has_value() || state_ == State::kClosed; });
  if (done && end_) return *end_;
  if (done) return exited();
  // Out of time: the sandbox is discarded; nothing it posts counts now.
  pending_.reset();
  state_ = State::kClosed;
  changed_.notify_all();
  return InvocationEnd{Outcome::kTimedOut,
                       ErrorDocument("Sandbox.Timedout", "RequestId: " + inv.request_id +
                                                             " Error: Task timed out after " +
                                                             Seconds2(inv.timeout) + " seconds"),
                       "Sandbox.Timedout", delivered_, Clock::now()};
}

void RuntimeApi::Close(const std::string& why) {
  std::lock_guard lock(mu_);
  if (closed_why_.empty()) closed_why_ = why;
  state_ = State::kClosed;
  pending_.reset();
  changed_.notify_all();
}

std::string NewRequestId() {
  std::string h = RandomHex(16);
  h[12] = '4';
  h[16] = "89ab"[h[16] % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::string NewTraceId() {
  char epoch[16];
  std::snprintf(epoch, sizeof(epoch), "%08llx",
                static_cast<unsigned long long>(std::time(nullptr)));
  return "Root=1-" + std::string(epoch) + "-" + RandomHex(12) + ";Parent=" + RandomHex(8) +
         ";Sampled=0";
}

}  // namespace lode::functions
