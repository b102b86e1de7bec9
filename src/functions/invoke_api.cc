#include "functions/invoke_api.h"

#include <nlohmann/json.hpp>

#include "functions/runtime_api.h"
#include "util/base64.h"
#include "util/text.h"

namespace lode::functions {
namespace {

using nlohmann::json;

constexpr const char* kFunctionsPrefix = "/2015-03-31/functions/";
constexpr const char* kInvocations = "/invocations";

// Lambda's error shape: the type in a header (where SDKs look first) and
// the body {"Type": ..., "message": ...}.
HttpResponse Error(int status, const std::string& type, const std::string& message,
                   const std::string& request_id = "") {
  HttpResponse r{status,
                 {{"Content-Type", "application/json"}, {"X-Amzn-ErrorType", type}},
                 json{{"Type", "User"}, {"message", message}}.dump()};
  if (status >= 500) r.body = json{{"Type", "Service"}, {"message", message}}.dump();
  if (!request_id.empty()) r.headers.emplace_back("X-Amzn-RequestId", request_id);
  return r;
}

HttpResponse FromResult(const InvokeResult& result) {
  switch (result.status) {
    case InvokeStatus::kNotFound:
      return Error(404, "ResourceNotFoundException", result.message, result.request_id);
    case InvokeStatus::kThrottled: {
      HttpResponse r = Error(429, "TooManyRequestsException", result.message, result.request_id);
      r.body = json{{"Type", "User"},
                    {"message", result.message},
                    {"Reason", "ConcurrentInvocationLimitExceeded"}}
                   .dump();
      return r;
    }
    case InvokeStatus::kDraining:
      return Error(503, "ServiceException", result.message, result.request_id);
    case InvokeStatus::kTooLarge:
      return Error(413, "RequestTooLargeException",
                   "Request must be smaller than " + std::to_string(kMaxPayloadBytes) +
                       " bytes for the InvokeFunction operation",
                   result.request_id);
    case InvokeStatus::kStartFailed:
      return Error(502, "ServiceException", result.message, result.request_id);
    case InvokeStatus::kAccepted:
      return {202, {{"X-Amzn-RequestId", result.request_id}}, ""};
    case InvokeStatus::kDone:
      break;
  }
  HttpResponse r{200,
                 {{"Content-Type", "application/json"},
                  {"X-Amzn-RequestId", result.request_id},
                  {"X-Amz-Executed-Version", "$LATEST"}},
                 result.payload};
  if (result.function_error) r.headers.emplace_back("X-Amz-Function-Error", "Unhandled");
  if (!result.log_tail.empty()) {
    r.headers.emplace_back("X-Amz-Log-Result", Base64Encode(result.log_tail));
  }
  return r;
}

}  // namespace

HttpResponse AnswerInvokeApi(Host& host, const HttpRequest& r) {
  if (r.method == "GET" && r.path == "/metrics") {
    return {200, {{"Content-Type", "text/plain; version=0.0.4"}}, host.Metrics()};
  }
  const std::string prefix = kFunctionsPrefix, suffix = kInvocations;
  bool invoke = r.path.size() > prefix.size() + suffix.size() && r.path.rfind(prefix, 0) == 0 &&
                r.path.compare(r.path.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (!invoke)
    return Error(404, "UnknownOperationException", "Unknown operation " + Excerpt(r.path, 100));
  if (r.method != "POST") {
    return Error(405, "InvalidParameterValueException", "Invoke takes POST, not " + r.method);
  }
  InvokeRequest request;
  request.function = r.path.substr(prefix.size(), r.path.size() - prefix.size() - suffix.size());
  auto qualifier = r.query.find("Qualifier");
  if (qualifier != r.query.end() && !qualifier->second.empty()) {
    request.function += ":" + qualifier->second;
  }
  if (r.body_too_large) return FromResult({.status = InvokeStatus::kTooLarge});
  std::string type = r.Header("x-amz-invocation-type");
  std::string log_type = r.Header("x-amz-log-type");
  if (!type.empty() && type != "RequestResponse" && type != "Event" && type != "DryRun") {
    return Error(400, "InvalidParameterValueException",
                 "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun");
  }
  if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
    return Error(400, "InvalidParameterValueException", "X-Amz-Log-Type must be None or Tail");
  }
  if (!r.body.empty() && json::parse(r.body, nullptr, false).is_discarded()) {
    return Error(400, "InvalidRequestContentException", "Could not parse request body into json");
  }
  request.payload = r.body;
  request.client_context = r.Header("x-amz-client-context");
  if (!request.client_context.empty() && !Base64Decode(request.client_context)) {
    return Error(400, "InvalidRequestContentException",
                 "X-Amz-Client-Context must be base64-encoded JSON");
  }
  request.trace_id = r.Header("x-amzn-trace-id");
  request.tail_log = log_type == "Tail" && type != "Event";
  if (type == "DryRun") {
    InvokeResult result = host.Check(request);
    if (result.status == InvokeStatus::kDone)
      return {204, {{"X-Amzn-RequestId", result.request_id}}, ""};
    return FromResult(result);
  }
  return FromResult(type == "Event" ? host.Enqueue(request) : host.Invoke(request));
}

}  // namespace lode::functions
