#include "functions/invoke_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "functions/runtime_api.h"
#include "store/object_store.h"
#include "testing/scratch_dir.h"

namespace lode::functions {
namespace {

using nlohmann::json;

// A host with a store and keys but no function: everything it answers
// without starting a sandbox.
class InvokeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HostOptions o;
    o.store = store::OpenStore("dir://" + dir_ / "store").value();
    auto keys = keys::OpenLocalKeyService(dir_ / "keys");
    ASSERT_TRUE(keys.ok());
    ASSERT_TRUE((*keys)->CreateTenant("acme").ok());
    o.keys = std::move(*keys);
    o.tenants = {"acme"};
    o.work_dir = dir_ / "work";
    host_ = Host::Start(o).value();
  }
  HttpResponse Invoke(const std::string& function, const std::string& body,
                      std::map<std::string, std::string> headers = {}) {
    HttpRequest r{"POST", "/2015-03-31/functions/" + function + "/invocations"};
    r.body = body;
    r.headers = std::move(headers);
    return AnswerInvokeApi(*host_, r);
  }

  testing::ScratchDir dir_;
  std::unique_ptr<Host> host_;
};

TEST_F(InvokeApiTest, UnknownFunctionsAreResourceNotFound) {
  for (const char* name : {"nope", "nope:$LATEST", "arn:aws:lambda:us-east-1:acme:function:nope",
                           "arn:aws:lambda:us-east-1:other:function:nope", "bad.name"}) {
    HttpResponse r = Invoke(name, "{}");
    EXPECT_EQ(r.status, 404) << name;
    EXPECT_EQ(r.Header("X-Amzn-ErrorType"), "ResourceNotFoundException");
    json body = json::parse(r.body);
    EXPECT_EQ(body["Type"], "User");
    EXPECT_NE(body["message"].get<std::string>().find("Function not found"), std::string::npos);
  }
  EXPECT_EQ(Invoke("nope", "", {{"x-amz-invocation-type", "DryRun"}}).status, 404);
  EXPECT_EQ(Invoke("nope", "", {{"x-amz-invocation-type", "Event"}}).status, 404);
}

TEST_F(InvokeApiTest, MalformedRequestsGetLambdasErrors) {
  HttpResponse r = Invoke("f", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Header("X-Amzn-ErrorType"), "InvalidRequestContentException");
  EXPECT_EQ(Invoke("f", "{}", {{"x-amz-invocation-type", "Sometimes"}}).status, 400);
  EXPECT_EQ(Invoke("f", "{}", {{"x-amz-log-type", "All"}}).status, 400);
  EXPECT_EQ(Invoke("f", "{}", {{"x-amz-client-context", "!!"}}).status, 400);
  HttpRequest big{"POST", "/2015-03-31/functions/f/invocations"};
  big.body_too_large = true;
  r = AnswerInvokeApi(*host_, big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Header("X-Amzn-ErrorType"), "RequestTooLargeException");
  EXPECT_EQ(AnswerInvokeApi(*host_, {"GET", "/2015-03-31/functions/f/invocations"}).status, 405);
  EXPECT_EQ(AnswerInvokeApi(*host_, {"POST", "/2015-03-31/functions/invocations"}).status, 404);
  EXPECT_EQ(AnswerInvokeApi(*host_, {"GET", "/metrics"}).status, 200);
}

TEST_F(InvokeApiTest, ADrainingHostRefusesWith503) {
  host_->Drain();
  HttpResponse r = Invoke("f", "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("X-Amzn-ErrorType"), "ServiceException");
}

}  // namespace
}  // namespace lode::functions
