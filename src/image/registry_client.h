// A client of one repository of an OCI distribution registry (internal to
// image input).
//
// Connect pings /v2/ to learn the scheme (https; plain http only for
// loopback hosts or with tls_verify off, and only when the server does not
// speak TLS at all) and the authentication challenge. Requests then carry
// Basic credentials or a Bearer token fetched from the challenge's realm
// (anonymously without credentials); a 401 refreshes the token once, so a
// token that expires during a long pull is replaced. Redirects are followed
// by hand: a request to another scheme, host or port never carries
// Authorization. Transient failures (connection errors, 408, 429, 5xx) are
// retried with backoff (Retry-After honoured); blob streams resume with
// Range from the last byte received.
//
// Thread-safe: layer downloads share one client.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/reference.h"
#include "image/registry_auth.h"
#include "image/registry_response.h"
#include "util/http.h"

namespace lode::image {

class RegistryClient {
 public:
  static Result<std::shared_ptr<RegistryClient>> Connect(const RegistryReference& ref,
                                                         const RegistryOptions& options);

  // A manifest by tag or digest. By digest the body must hash to it; by tag
  // it must hash to Docker-Content-Digest when the registry sends one.
  // Schema 1 manifests and bodies over 4 MiB are refused.
  Result<FetchedManifest> GetManifest(const std::string& reference);
  // A small blob (an image config), verified against digest and size.
  Result<std::string> GetSmallBlob(const Digest& digest, uint64_t size, const std::string& name);
  // Streams a blob from byte `offset` to its end into `sink`, resuming after
  // transient failures as long as each attempt makes progress. A sink that
  // returns false stops the stream (Unavailable "stopped"). Bytes are not
  // verified here: the reader checks digest and size.
  Status StreamBlob(const Digest& digest, uint64_t offset,
                    const std::function<bool(std::span<const uint8_t>)>& sink);

  // "docker://HOST/REPO", for messages.
  std::string Describe() const;

 private:
  RegistryClient(RegistryReference ref, RegistryOptions options);
  Status Ping();
  struct Sent {
    http::Response response;
    std::string url;    // the last URL requested (after redirects)
    Status auth_error;  // the request could not be authorized
  };
  // One exchange with auth and redirects; no retries.
  Sent Exchange(http::Request request, bool follow_redirects);
  // Exchange with retries of transient failures.
  Sent ExchangeWithRetries(const http::Request& request, bool follow_redirects);
  http::Request NewRequest(const std::string& method, const std::string& path) const;
  // The Authorization header line for a request to the registry ("" when
  // none is needed); `used` records what was sent, for HandleUnauthorized.
  Result<std::string> AuthorizationFor(std::string* used);
  // After a 401: learns the challenge; true when a retry may succeed.
  bool HandleUnauthorized(const http::Response& response, const std::string& used);
  Status FetchToken();
  // `form` keeps a POST body alive for the request.
  http::Request TokenRequest(const std::string& realm, const std::string& service,
                             const std::vector<std::string>& scopes, std::string* form) const;
  Status ErrorOf(const Sent& sent, const std::string& what) const;
  bool SameOrigin(const std::string& url) const;

  RegistryReference ref_;
  RegistryOptions options_;
  std::optional<RegistryCredentials> creds_;
  http::TlsOptions tls_;
  std::string base_;  // "https://host:port"
  http::Client http_;
  http::RetryPolicy retry_;

  std::mutex mu_;  // guards the auth state below
  AuthChallenge challenge_;
  std::set<std::string> scopes_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expiry_;
  std::mutex token_fetch_mu_;  // one token fetch at a time (held across it)
};

}  // namespace lode::image
