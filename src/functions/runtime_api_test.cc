#include "functions/runtime_api.h"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

namespace lode::functions {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

HttpRequest Get(const std::string& path) { return {"GET", "/2018-06-01/runtime/" + path}; }

HttpRequest Post(const std::string& path, const std::string& body) {
  HttpRequest r{"POST", "/2018-06-01/runtime/" + path};
  r.body = body;
  return r;
}

Invocation Event(const std::string& id, const std::string& payload, int timeout_ms = 5000) {
  Invocation inv;
  inv.request_id = id;
  inv.payload = payload;
  inv.trace_id = "Root=1-x";
  inv.client_context = "eyJhIjoxfQ==";  // {"a":1}
  inv.timeout = milliseconds(timeout_ms);
  return inv;
}

// The runtime side: asks for the next event on its own thread.
std::future<HttpResponse> AskNext(RuntimeApi& api) {
  return std::async(std::launch::async, [&api] { return api.Handle(Get("invocation/next")); });
}

TEST(RuntimeApiTest, DeliversAnEventAndReturnsTheResponse) {
  RuntimeApi api("arn:aws:lambda:r:t:function:f");
  std::future<HttpResponse> next = AskNext(api);
  EXPECT_FALSE(api.AwaitInit(milliseconds(2000)).has_value());  // the runtime is ready
  std::future<InvocationEnd> end =
      std::async(std::launch::async, [&] { return api.Invoke(Event("id-1", R"({"x":1})")); });
  HttpResponse event = next.get();
  EXPECT_EQ(event.status, 200);
  EXPECT_EQ(event.body, R"({"x":1})");
  EXPECT_EQ(event.Header("Content-Type"), "application/json");
  EXPECT_EQ(event.Header("Lambda-Runtime-Aws-Request-Id"), "id-1");
  EXPECT_EQ(event.Header("Lambda-Runtime-Invoked-Function-Arn"), "arn:aws:lambda:r:t:function:f");
  EXPECT_EQ(event.Header("Lambda-Runtime-Trace-Id"), "Root=1-x");
  EXPECT_EQ(event.Header("Lambda-Runtime-Client-Context"), R"({"a":1})");
  int64_t deadline = std::stoll(event.Header("Lambda-Runtime-Deadline-Ms"));
  int64_t now =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_GT(deadline, now + 4000);
  EXPECT_LE(deadline, now + 5000);

  HttpResponse posted = api.Handle(Post("invocation/id-1/response", R"({"ok":true})"));
  EXPECT_EQ(posted.status, 202);
  EXPECT_EQ(posted.Header("Content-Type"), "application/json");
  InvocationEnd e = end.get();
  EXPECT_EQ(e.outcome, Outcome::kResponse);
  EXPECT_EQ(e.body, R"({"ok":true})");
  // Answering again, or for an id it never received, is refused.
  EXPECT_EQ(api.Handle(Post("invocation/id-1/response", "{}")).status, 403);
  EXPECT_EQ(api.Handle(Post("invocation/other/response", "{}")).status, 400);
  EXPECT_EQ(api.Handle(Post("init/error", "{}")).status, 403);
  EXPECT_EQ(api.Handle(Get("nothing")).status, 404);
  api.Close("test over");
}

TEST(RuntimeApiTest, ErrorsTimeoutsAndExits) {
  RuntimeApi api("arn");
  std::future<HttpResponse> next = AskNext(api);
  ASSERT_FALSE(api.AwaitInit(milliseconds(2000)).has_value());
  auto invoke = [&](const Invocation& inv) {
    return std::async(std::launch::async, [&api, inv] { return api.Invoke(inv); });
  };
  std::future<InvocationEnd> end = invoke(Event("e1", "{}"));
  ASSERT_EQ(next.get().status, 200);
  HttpRequest error = Post("invocation/e1/error", R"({"errorMessage":"boom","errorType":"Error"})");
  EXPECT_EQ(api.Handle(error).status, 202);
  InvocationEnd e = end.get();
  EXPECT_EQ(e.outcome, Outcome::kFunctionError);
  EXPECT_EQ(e.error_type, "Error");
  EXPECT_EQ(json::parse(e.body)["errorMessage"], "boom");

  // A streamed response that fails midway says so in its trailers.
  next = AskNext(api);
  end = invoke(Event("e2", "{}"));
  ASSERT_EQ(next.get().status, 200);
  HttpRequest streamed = Post("invocation/e2/response", "partial");
  streamed.headers["lambda-runtime-function-response-mode"] = "streaming";
  streamed.trailers["lambda-runtime-function-error-type"] = "Stream.Broke";
  streamed.trailers["lambda-runtime-function-error-body"] = "aGFsZg==";  // "half"
  EXPECT_EQ(api.Handle(streamed).status, 202);
  e = end.get();
  EXPECT_EQ(e.outcome, Outcome::kFunctionError);
  EXPECT_EQ(e.error_type, "Stream.Broke");
  EXPECT_EQ(json::parse(e.body)["errorMessage"], "half");

  // Too large a response fails the invocation, not the runtime.
  next = AskNext(api);
  end = invoke(Event("e3", "{}"));
  ASSERT_EQ(next.get().status, 200);
  HttpRequest big = Post("invocation/e3/response", "");
  big.body_too_large = true;
  EXPECT_EQ(api.Handle(big).status, 413);
  EXPECT_EQ(end.get().error_type, "Function.ResponseSizeTooLarge");

  // No answer in time.
  next = AskNext(api);
  InvocationEnd timed_out = api.Invoke(Event("e4", "{}", 200));
  EXPECT_EQ(timed_out.outcome, Outcome::kTimedOut);
  EXPECT_NE(timed_out.body.find("Task timed out after 0.20 seconds"), std::string::npos);
  EXPECT_EQ(next.get().status, 200);
  // The sandbox is discarded: a late answer counts for nothing.
  EXPECT_NE(api.Handle(Post("invocation/e4/response", "{}")).status, 202);
}

TEST(RuntimeApiTest, AnExitEndsTheInvocationInFlight) {
  RuntimeApi api("arn");
  std::future<HttpResponse> next = AskNext(api);
  ASSERT_FALSE(api.AwaitInit(milliseconds(2000)).has_value());
  std::future<InvocationEnd> end =
      std::async(std::launch::async, [&] { return api.Invoke(Event("x1", "{}")); });
  ASSERT_EQ(next.get().status, 200);
  api.Close("Runtime exited with error: signal 9");
  InvocationEnd e = end.get();
  EXPECT_EQ(e.outcome, Outcome::kExited);
  EXPECT_EQ(e.error_type, "Runtime.ExitError");
  EXPECT_NE(e.body.find("RequestId: x1 Error: Runtime exited with error: signal 9"),
            std::string::npos);
  EXPECT_EQ(api.Invoke(Event("x2", "{}")).outcome, Outcome::kExited);
}

TEST(RuntimeApiTest, InitErrorsAndInitTimeouts) {
  RuntimeApi failing("arn");
  HttpRequest init =
      Post("init/error", R"({"errorMessage":"no module","errorType":"Runtime.ImportModuleError"})");
  EXPECT_EQ(failing.Handle(init).status, 202);
  std::optional<InvocationEnd> end = failing.AwaitInit(milliseconds(1000));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->outcome, Outcome::kInitError);
  EXPECT_EQ(end->error_type, "Runtime.ImportModuleError");

  RuntimeApi exiting("arn");
  exiting.Close("Runtime exited with error: exit status 3");
  end = exiting.AwaitInit(milliseconds(1000));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_type, "Runtime.ExitError");
  EXPECT_NE(end->body.find("exit status 3"), std::string::npos);

  RuntimeApi silent("arn");
  end = silent.AwaitInit(milliseconds(100));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_type, "Sandbox.Timedout");
}

TEST(RuntimeApiTest, PublishingHoldsTheRuntimesFirstRequestForTheSnapshot) {
  for (const char* first : {"restore/next", "invocation/next"}) {
    RuntimeApi api("arn", SnapStartPhase::kPublishing);
    std::future<HttpResponse> held =
        std::async(std::launch::async, [&] { return api.Handle(Get(first)); });
    EXPECT_FALSE(api.AwaitSnapshotPoint(milliseconds(2000)).has_value()) << first;
    EXPECT_EQ(api.has_restore_hooks(), std::string(first) == "restore/next");
    EXPECT_EQ(held.wait_for(milliseconds(100)), std::future_status::timeout)
        << "answered before the snapshot";
    api.Close("saved");
    EXPECT_EQ(held.get().status, 410);
  }
  // A runtime that never gets there: init times out; an init error is one.
  RuntimeApi slow("arn", SnapStartPhase::kPublishing);
  std::optional<InvocationEnd> timed_out = slow.AwaitSnapshotPoint(milliseconds(50));
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(timed_out->error_type, "Sandbox.Timedout");
  RuntimeApi failing("arn", SnapStartPhase::kPublishing);
  EXPECT_EQ(failing.Handle(Post("init/error", R"({"errorType":"X","errorMessage":"m"})")).status,
            202);
  std::optional<InvocationEnd> failed = failing.AwaitSnapshotPoint(milliseconds(2000));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->outcome, Outcome::kInitError);
  EXPECT_EQ(failed->error_type, "X");
}

TEST(RuntimeApiTest, ARestoredRuntimeGetsRestoreNextOnceThenEvents) {
  RuntimeApi api("arn", SnapStartPhase::kRestored);
  HttpResponse restored = api.Handle(Get("restore/next"));
  EXPECT_EQ(restored.status, 200);
  EXPECT_EQ(api.Handle(Get("restore/next")).status, 403);  // once
  std::future<HttpResponse> next = AskNext(api);
  EXPECT_FALSE(api.AwaitInit(milliseconds(2000)).has_value());
  std::future<InvocationEnd> end =
      std::async(std::launch::async, [&] { return api.Invoke(Event("id-1", "{}")); });
  EXPECT_EQ(next.get().status, 200);
  EXPECT_EQ(api.Handle(Post("invocation/id-1/response", "ok")).status, 202);
  EXPECT_EQ(end.get().body, "ok");

  // The after-restore hooks failed: that start fails with their error.
  RuntimeApi failed("arn", SnapStartPhase::kRestored);
  EXPECT_EQ(failed.Handle(Get("restore/next")).status, 200);
  HttpRequest error = Post("restore/error", "hook failed");
  error.headers["lambda-runtime-function-error-type"] = "Runtime.AfterRestoreError";
  EXPECT_EQ(failed.Handle(error).status, 202);
  std::optional<InvocationEnd> init = failed.AwaitInit(milliseconds(2000));
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->outcome, Outcome::kInitError);
  EXPECT_EQ(init->error_type, "Runtime.AfterRestoreError");
  // Not a SnapStart sandbox: no restore routes.
  RuntimeApi on_demand("arn");
  EXPECT_EQ(on_demand.Handle(Get("restore/next")).status, 403);
  EXPECT_EQ(on_demand.Handle(Post("restore/error", "x")).status, 403);
}

}  // namespace
}  // namespace lode::functions
