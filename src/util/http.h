// HTTP over libcurl for lode's remote peers (S3 stores, OCI registries):
// one request at a time per call, keep-alive handles pooled per client,
// response headers collected, bodies collected (bounded) or streamed, and
// the retry policy both peers share.
//
// Redirects are never followed here: a caller that accepts them decides what
// the next request carries (a registry must not forward its credentials to a
// blob host). Header values given in a Request are never logged or put in a
// Response.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lode::http {

struct TlsOptions {
  bool verify = true;        // peer certificate and host name
  std::string extra_ca_pem;  // PEM certificates trusted besides the system's
  std::string client_cert;   // PEM file, with client_key: a client certificate
  std::string client_key;
};

struct Response;

struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::span<const uint8_t> body;     // sent with PUT and POST
  // Receives the body of a 2xx answer instead of Response::body, piece by
  // piece, with the answer's status and headers; returning false aborts the
  // transfer (Response::aborted).
  std::function<bool(const Response&, std::span<const uint8_t>)> on_body;
  // A collected body longer than this aborts the transfer (body_too_large).
  size_t max_body = 1 << 20;
  long connect_timeout_ms = 10000;
  long timeout_ms = 0;              // the whole exchange; 0: no limit
  long stall_timeout_seconds = 30;  // abort when no byte arrives for this long
  std::string aws_sigv4;            // CURLOPT_AWS_SIGV4 provider string, with userpwd
  std::string userpwd;
  TlsOptions tls;
};

struct Response {
  int curl_code = 0;       // CURLcode; 0 when the exchange completed
  std::string curl_error;  // libcurl's description when curl_code != 0
  long status = 0;         // HTTP status of the answer
  // The answer's headers, names lower-cased, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string redirect_url;  // a 3xx answer's Location, made absolute
  std::string body;          // when not streamed to on_body
  bool body_too_large = false;
  bool aborted = false;  // on_body returned false

  bool completed() const { return curl_code == 0; }
  // The first value of header `name` (lower case), or "".
  std::string Header(const std::string& name) const;
  std::vector<std::string> HeaderValues(const std::string& name) const;
  // A TLS failure: untrusted or mismatched certificate, handshake refused.
  bool tls_failed() const;
  // The TLS handshake itself failed (for one, the peer speaks plain HTTP).
  bool tls_handshake_failed() const;
  // No connection: name not resolved, refused, or timed out.
  bool connect_failed() const;
  // Worth retrying: connection refused/reset/timed out, a cut-off body, or
  // HTTP 408, 429, 5xx.
  bool transient() const;
};

// Thread-safe; reuses connections between requests.
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Response Perform(const Request& request);

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);
  std::mutex mu_;
  std::vector<void*> idle_;
};

// Capped exponential backoff with full jitter, and a budget: retries spend
// tokens that successes earn back, so a failing peer sees at most ~10% extra
// requests rather than a retry storm. Thread-safe.
class RetryPolicy {
 public:
  struct Options {
    int max_attempts = 4;
    std::chrono::milliseconds base{50};
    std::chrono::milliseconds cap{2000};
    double tokens = 20;
    double tokens_per_success = 0.1;
  };
  RetryPolicy() : RetryPolicy(Options()) {}
  explicit RetryPolicy(Options options);

  int max_attempts() const { return options_.max_attempts; }
  // Before retry number `attempt` (1-based): false when the budget is spent;
  // otherwise sleeps the backoff (at least `at_least`, as a peer's
  // Retry-After asks) and returns true.
  bool WaitBeforeRetry(int attempt, std::chrono::milliseconds at_least = {});
  void RecordSuccess();

 private:
  Options options_;
  std::mutex mu_;
  double tokens_;
  std::mt19937 rng_{std::random_device{}()};
};

// Percent-encodes all but RFC 3986 unreserved characters (and '/' when
// `keep_slash`).
std::string PercentEncode(const std::string& s, bool keep_slash);

}  // namespace lode::http
