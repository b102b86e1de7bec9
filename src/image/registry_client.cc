#include "image/registry_client.h"

#include <dirent.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/image_internal.h"
#include "image/registry_response.h"
#include "util/base64.h"
#include "util/file.h"
#include "util/text.h"

namespace lode::image {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxSmallBlobBytes = 16 << 20;
constexpr int kMaxRedirects = 5;
// A blob stream is resumed after a failure as long as the attempt before it
// made progress, at most this many times in all: a peer that keeps cutting
// transfers short is given up on.
constexpr int kMaxStreamFailuresWithoutProgress = 4;
constexpr int kMaxStreamResumes = 10;

const std::string kManifestAccept = "Accept: " + std::string(kOciManifest) + ", " +
                                    std::string(kOciIndex) + ", " + std::string(kDockerManifest) +
                                    ", " + std::string(kDockerList);

// scheme://host[:port] of a URL.
std::string OriginOf(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  size_t path = url.find_first_of("/?#", scheme_end + 3);
  return AsciiLower(url.substr(0, path));
}

std::chrono::milliseconds RetryAfter(const http::Response& r) {
  std::string v = r.Header("retry-after");
  if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 4) return {};
  return std::chrono::milliseconds(std::min(std::stol(v), 30L) * 1000);
}

Result<http::TlsOptions> LoadTls(const std::string& host, const RegistryOptions& options) {
  http::TlsOptions tls;
  tls.verify = options.tls_verify;
  std::vector<std::string> dirs;
  if (!options.cert_dir.empty()) {
    if (::access(options.cert_dir.c_str(), R_OK | X_OK) != 0) {
      return Status::FromErrno(errno, "--cert-dir " + options.cert_dir);
    }
    dirs.push_back(options.cert_dir);
  } else {
    dirs = {"/etc/containers/certs.d/" + host, "/etc/docker/certs.d/" + host};
  }
  for (const std::string& dir : dirs) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string path = dir + "/" + name;
      if (name.ends_with(".crt")) {
        LODE_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
        tls.extra_ca_pem += pem + "\n";
      } else if (name.ends_with(".cert")) {
        tls.client_cert = path;
        tls.client_key = path.substr(0, path.size() - 5) + ".key";
      }
    }
  }
  return tls;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += http::PercentEncode(k, false);
    out += '=';
    out += http::PercentEncode(v, false);
  }
  return out;
}

}  // namespace

RegistryClient::RegistryClient(RegistryReference ref, RegistryOptions options)
    : ref_(std::move(ref)), options_(std::move(options)) {}

Result<std::shared_ptr<RegistryClient>> RegistryClient::Connect(const RegistryReference& ref,
                                                                const RegistryOptions& options) {
  std::shared_ptr<RegistryClient> c(new RegistryClient(ref, options));
  if (options.creds) {
    c->creds_ = options.creds;
  } else {
    LODE_ASSIGN_OR_RETURN(c->creds_,
                          FindCredentials(ref.registry, ref.repository, options.auth_file));
  }
  LODE_ASSIGN_OR_RETURN(c->tls_, LoadTls(ref.registry, options));
  c->scopes_.insert("repository:" + ref.repository + ":pull");
  LODE_RETURN_IF_ERROR(c->Ping());
  return c;
}

std::string RegistryClient::Describe() const {
  return "docker://" + ref_.registry + "/" + ref_.repository;
}

http::Request RegistryClient::NewRequest(const std::string& method, const std::string& path) const {
  http::Request r;
  r.method = method;
  r.url = base_ + path;
  r.connect_timeout_ms = options_.connect_timeout_ms;
  r.stall_timeout_seconds = options_.stall_timeout_seconds;
  r.tls = tls_;
  r.headers.push_back("User-Agent: lode/0.1");
  return r;
}

bool RegistryClient::SameOrigin(const std::string& url) const {
  return OriginOf(url) == OriginOf(base_);
}

Status RegistryClient::Ping() {
  std::string host = ref_.ApiHost();
  base_ = "https://" + host;
  Sent sent = ExchangeWithRetries(NewRequest("GET", "/v2/"), false);
  // A server that does not speak TLS at all answers the handshake in plain
  // HTTP; only then, and only where plain http is acceptable, try it.
  bool plain_allowed = IsLoopbackHost(host) || !options_.tls_verify;
  if (sent.response.tls_handshake_failed() && plain_allowed) {
    base_ = "http://" + host;
    sent = ExchangeWithRetries(NewRequest("GET", "/v2/"), false);
  }
  const http::Response& r = sent.response;
  if (!r.completed()) return ErrorOf(sent, "ping");
  if (r.status == 401) {
    std::vector<AuthChallenge> all = ParseChallenges(r.HeaderValues("www-authenticate"));
    std::lock_guard lock(mu_);
    for (const AuthChallenge& c : all) {
      if (c.scheme == "bearer") challenge_ = c;
    }
    for (const AuthChallenge& c : all) {
      if (c.scheme == "basic" && challenge_.scheme.empty()) challenge_ = c;
    }
    return Status::Ok();
  }
  if (r.status == 404) {
    return Status::InvalidArgument(host + " is not an OCI registry (no /v2/ API)");
  }
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  return ErrorOf(sent, "ping");
}

Result<std::string> RegistryClient::AuthorizationFor(std::string* used) {
  std::unique_lock lock(mu_);
  if (challenge_.scheme == "basic") {
    if (!creds_ || creds_->username.empty()) return std::string();
    *used = "basic";
    return "Authorization: Basic " + Base64Encode(creds_->username + ":" + creds_->password);
  }
  if (challenge_.scheme != "bearer") return std::string();
  if (token_.empty() || Clock::now() >= token_expiry_) {
    lock.unlock();
    LODE_RETURN_IF_ERROR(FetchToken());
    lock.lock();
  }
  *used = token_;
  return "Authorization: Bearer " + token_;
}

bool RegistryClient::HandleUnauthorized(const http::Response& response, const std::string& used) {
  std::vector<AuthChallenge> all = ParseChallenges(response.HeaderValues("www-authenticate"));
  std::lock_guard lock(mu_);
  const AuthChallenge* bearer = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const AuthChallenge& c : all) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  if (bearer != nullptr) {
    challenge_ = *bearer;
    std::string scope = bearer->Param("scope");
    for (size_t start = 0; start < scope.size();) {
      size_t space = scope.find(' ', start);
      if (space == std::string::npos) space = scope.size();
      if (space > start) scopes_.insert(scope.substr(start, space - start));
      start = space + 1;
    }
  } else if (basic != nullptr) {
    challenge_ = *basic;
  }
  if (challenge_.scheme == "bearer") {
    // Another request may have refreshed the token meanwhile: use that one.
    if (token_ == used) token_.clear();
    return true;
  }
  // Basic: worth a retry only if credentials exist and were not sent yet.
  return challenge_.scheme == "basic" && used != "basic" && creds_ && !creds_->username.empty();
}

Status RegistryClient::FetchToken() {
  std::lock_guard fetch_lock(token_fetch_mu_);
  std::string realm, service;
  std::vector<std::string> scopes;
  {
    std::lock_guard lock(mu_);
    if (!token_.empty() && Clock::now() < token_expiry_) return Status::Ok();
    realm = challenge_.Param("realm");
    service = challenge_.Param("service");
    scopes.assign(scopes_.begin(), scopes_.end());
  }
  if (!realm.starts_with("https://") &&
      !(realm.starts_with("http://") && base_.starts_with("http://"))) {
    return Status::Rejected(Describe() + ": token realm '" + Excerpt(realm) +
                            "' is not https (refused: credentials would travel in the clear)");
  }
  std::string form;
  http::Request r = TokenRequest(realm, service, scopes, &form);
  http::Response response;
  for (int attempt = 0; attempt < retry_.max_attempts(); ++attempt) {
    if (attempt > 0 && !retry_.WaitBeforeRetry(attempt, RetryAfter(response))) break;
    response = http_.Perform(r);
    if (!response.transient()) break;
  }
  std::string origin = OriginOf(realm);
  if (!response.completed()) {
    return Status::Unavailable(Describe() + ": token server " + origin + " unreachable (" +
                               response.curl_error + ")");
  }
  if (response.status == 401 || response.status == 403) {
    if (creds_) {
      return Status::Rejected(Describe() + ": authentication failed: token server " + origin +
                              " refused the credentials from " + creds_->source);
    }
    return Status::Rejected(Describe() + ": token server " + origin +
                            " refused anonymous access: give --creds or --authfile");
  }
  std::optional<Token> answer =
      response.status == 200 ? ParseTokenAnswer(response.body) : std::nullopt;
  if (!answer) {
    return Status::Unavailable(Describe() + ": token server " + origin + " answered HTTP " +
                               std::to_string(response.status) + " without a token");
  }
  long lifetime = answer->lifetime_seconds;
  std::lock_guard lock(mu_);
  token_ = answer->token;
  // Renewed a little early, so a request does not leave with a token about
  // to expire.
  token_expiry_ = Clock::now() + std::chrono::seconds(lifetime - lifetime / 10);
  return Status::Ok();
}

// GET realm?service=..&scope=.. with Basic credentials (or none: an
// anonymous token), or an OAuth2 refresh-token POST for identity tokens.
http::Request RegistryClient::TokenRequest(const std::string& realm, const std::string& service,
                                           const std::vector<std::string>& scopes,
                                           std::string* form) const {
  http::Request r = NewRequest("GET", "");
  std::vector<std::pair<std::string, std::string>> fields;
  if (!service.empty()) fields.emplace_back("service", service);
  if (creds_ && !creds_->identity_token.empty()) {
    std::string joined;
    for (const std::string& s : scopes) joined += (joined.empty() ? "" : " ") + s;
    fields.insert(fields.end(), {{"grant_type", "refresh_token"},
                                 {"refresh_token", creds_->identity_token},
                                 {"client_id", "lode"},
                                 {"scope", joined}});
    *form = FormEncode(fields);
    r.method = "POST";
    r.url = realm;
    r.body = std::span(reinterpret_cast<const uint8_t*>(form->data()), form->size());
    r.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    return r;
  }
  for (const std::string& s : scopes) fields.emplace_back("scope", s);
  r.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + FormEncode(fields);
  if (creds_ && !creds_->username.empty()) {
    r.headers.push_back("Authorization: Basic " +
                        Base64Encode(creds_->username + ":" + creds_->password));
  }
  return r;
}

RegistryClient::Sent RegistryClient::Exchange(http::Request request, bool follow_redirects) {
  bool reauthenticated = false;
  for (int hop = 0; hop <= kMaxRedirects;) {
    http::Request r = request;
    std::string used;
    if (SameOrigin(r.url)) {
      Result<std::string> auth = AuthorizationFor(&used);
      if (!auth.ok()) return {.url = r.url, .auth_error = auth.status()};
      if (!auth->empty()) r.headers.push_back(*auth);
    }
    Sent sent{.response = http_.Perform(r), .url = r.url};
    const http::Response& resp = sent.response;
    if (resp.completed() && resp.status == 401 && SameOrigin(r.url) && !reauthenticated) {
      reauthenticated = true;
      if (HandleUnauthorized(resp, used)) continue;
      return sent;
    }
    bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                    resp.status == 307 || resp.status == 308;
    if (!follow_redirects || !redirect || resp.redirect_url.empty()) return sent;
    // The next request carries Authorization only if it goes back to the
    // registry itself (SameOrigin above): never to a blob host.
    request.url = resp.redirect_url;
    ++hop;
  }
  Sent too_many;
  too_many.auth_error =
      Status::IOError(Describe() + ": more than " + std::to_string(kMaxRedirects) + " redirects");
  return too_many;
}

RegistryClient::Sent RegistryClient::ExchangeWithRetries(const http::Request& request,
                                                         bool follow_redirects) {
  Sent sent;
  for (int attempt = 0; attempt < retry_.max_attempts(); ++attempt) {
    if (attempt > 0 && !retry_.WaitBeforeRetry(attempt, RetryAfter(sent.response))) break;
    sent = Exchange(request, follow_redirects);
    if (!sent.response.transient()) break;
  }
  if (!sent.response.transient()) retry_.RecordSuccess();
  return sent;
}

Status RegistryClient::ErrorOf(const Sent& sent, const std::string& what) const {
  if (!sent.auth_error.ok()) return sent.auth_error;
  const http::Response& r = sent.response;
  std::string prefix = Describe() + ": " + what;
  if (!r.completed()) {
    if (r.tls_failed()) {
      return Status::Rejected(prefix + ": TLS with " + OriginOf(sent.url) + " failed (" +
                              Excerpt(r.curl_error) +
                              "): trust its CA with --cert-dir or /etc/containers/certs.d/" +
                              ref_.ApiHost() + "/, or pass --tls-verify=false");
    }
    return Status::Unavailable(prefix + ": " + OriginOf(sent.url) +
                               (r.connect_failed() ? " unreachable (" : " transfer failed (") +
                               Excerpt(r.curl_error) + ")");
  }
  std::string detail = RegistryErrorOf(r.body);
  std::string suffix = detail.empty() ? "" : " (" + detail + ")";
  if (r.status == 401) {
    if (creds_) {
      return Status::Rejected(prefix +
                              ": authentication failed: the registry refused the "
                              "credentials from " +
                              creds_->source + suffix);
    }
    return Status::Rejected(prefix +
                            ": authentication required: give --creds or --authfile, "
                            "or log in with podman or docker" +
                            suffix);
  }
  if (r.status == 403) return Status::Rejected(prefix + ": access denied" + suffix);
  if (r.status == 404) return Status::NotFound(prefix + ": not found" + suffix);
  if (r.status == 429) {
    return Status::Unavailable(prefix + ": rate limited by the registry, try later" + suffix);
  }
  if (r.status >= 500) {
    return Status::Unavailable(prefix + ": the registry failed with HTTP " +
                               std::to_string(r.status) + suffix);
  }
  return Status::IOError(prefix + ": the registry answered HTTP " + std::to_string(r.status) +
                         suffix);
}

Result<FetchedManifest> RegistryClient::GetManifest(const std::string& reference) {
  http::Request request = NewRequest("GET", "/v2/" + ref_.repository + "/manifests/" + reference);
  request.headers.push_back(kManifestAccept);
  request.max_body = kMaxManifestBytes;
  Sent sent = ExchangeWithRetries(request, true);
  std::string what = "manifest " + reference;
  if (sent.response.body_too_large) {
    return Status::InvalidArgument(Describe() + ": " + what + " is larger than 4 MiB (refused)");
  }
  const http::Response& r = sent.response;
  if (!sent.auth_error.ok() || !r.completed() || r.status != 200) return ErrorOf(sent, what);
  Result<FetchedManifest> m = ReadManifestAnswer(r, reference);
  if (!m.ok()) return m.status().WithContext(Describe());
  return m;
}

Result<std::string> RegistryClient::GetSmallBlob(const Digest& digest, uint64_t size,
                                                 const std::string& name) {
  if (size > kMaxSmallBlobBytes) {
    return Status::InvalidArgument(Describe() + ": " + name + " is larger than 16 MiB");
  }
  std::string body;
  bool too_large = false;
  Status streamed = StreamBlob(digest, 0, [&](std::span<const uint8_t> bytes) {
    too_large = body.size() + bytes.size() > size;
    if (!too_large) body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return !too_large;
  });
  if (too_large) {
    return Status::Corruption(Describe() + ": " + name + ": larger than its descriptor's size " +
                              std::to_string(size));
  }
  LODE_RETURN_IF_ERROR(streamed);
  if (body.size() != size) {
    return Status::Corruption(Describe() + ": " + name + ": size " + std::to_string(body.size()) +
                              " does not match its descriptor's size " + std::to_string(size));
  }
  Digest got;
  got.bytes = Sha256::Of(body);
  if (!(got == digest)) {
    return Status::Corruption(Describe() + ": " + name + ": digest mismatch: expected " +
                              digest.ToString() + ", content is " + got.ToString());
  }
  return body;
}

Status RegistryClient::StreamBlob(const Digest& digest, uint64_t offset,
                                  const std::function<bool(std::span<const uint8_t>)>& sink) {
  std::string what = "blob " + digest.ToString();
  uint64_t position = offset;
  int failures = 0;
  for (int resumes = 0;; ++resumes) {
    http::Request request =
        NewRequest("GET", "/v2/" + ref_.repository + "/blobs/" + digest.ToString());
    if (position > 0) request.headers.push_back("Range: bytes=" + std::to_string(position) + "-");
    uint64_t skip = 0;  // a server that ignored Range resends the start
    bool first = true;
    bool bad_range = false;
    request.on_body = [&](const http::Response& answer, std::span<const uint8_t> bytes) {
      if (first) {
        first = false;
        if (position > 0 && answer.status == 200) skip = position;
        if (answer.status == 206 && !answer.Header("content-range")
                                         .starts_with("bytes " + std::to_string(position) + "-")) {
          bad_range = true;
          return false;
        }
      }
      size_t dropped = static_cast<size_t>(std::min<uint64_t>(skip, bytes.size()));
      skip -= dropped;
      bytes = bytes.subspan(dropped);
      if (bytes.empty()) return true;
      if (!sink(bytes)) return false;
      position += bytes.size();
      return true;
    };
    uint64_t before = position;
    Sent sent = Exchange(request, true);
    const http::Response& r = sent.response;
    if (bad_range) return Status::Corruption(Describe() + ": " + what + ": wrong Content-Range");
    if (r.aborted) return Status::Unavailable(Describe() + ": " + what + ": stopped");
    if (r.completed() && (r.status == 200 || r.status == 206)) {
      retry_.RecordSuccess();
      return Status::Ok();
    }
    if (r.status == 416) {
      return Status::Corruption(Describe() + ": " + what + " is shorter than " +
                                std::to_string(position) + " bytes");
    }
    if (!sent.auth_error.ok() || !r.transient()) return ErrorOf(sent, what);
    failures = position > before ? 0 : failures + 1;
    if (failures >= kMaxStreamFailuresWithoutProgress || resumes >= kMaxStreamResumes ||
        !retry_.WaitBeforeRetry(failures + 1, RetryAfter(r))) {
      return ErrorOf(sent, what).WithContext("after " + std::to_string(resumes + 1) + " attempts");
    }
  }
}

}  // namespace lode::image
