// Lambda's Invoke API over HTTP, in front of a function host:
// POST /2015-03-31/functions/NAME/invocations with Lambda's headers,
// status codes and error shapes, so AWS SDKs and the AWS CLI (with
// --endpoint-url) can invoke lode (docs/formats/functions.md).
#pragma once

#include "functions/host.h"
#include "functions/http_server.h"

namespace lode::functions {

// Answers one request of the Invoke API; GET /metrics is the host's
// Prometheus text.
HttpResponse AnswerInvokeApi(Host& host, const HttpRequest& request);

}  // namespace lode::functions
