#include "util/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "util/text.h"

namespace lode::http {
namespace {

struct Exchange {
  const Request* request;
  Response* response;
  CURL* handle;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    x->response->headers.clear();  // an interim answer (100 Continue) came first
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    x->response->headers.emplace_back(AsciiLower(Trim(line.substr(0, colon))),
                                      Trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t bytes = size * n;
  long& status = x->response->status;
  curl_easy_getinfo(x->handle, CURLINFO_RESPONSE_CODE, &status);
  if (x->request->on_body && status >= 200 && status < 300) {
    if (!x->request->on_body(*x->response,
                             std::span(reinterpret_cast<const uint8_t*>(data), bytes))) {
      x->response->aborted = true;
      return 0;
    }
    return bytes;
  }
  if (x->response->body.size() + bytes > x->request->max_body) {
    x->response->body_too_large = true;
    return 0;
  }
  x->response->body.append(data, bytes);
  return bytes;
}

struct Upload {
  std::span<const uint8_t> data;
  size_t offset = 0;
};

size_t Feed(char* buffer, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t take = std::min(size * n, u->data.size() - u->offset);
  std::copy_n(u->data.data() + u->offset, take, buffer);
  u->offset += take;
  return take;
}

void SetTls(CURL* h, const TlsOptions& tls, curl_blob* ca_blob) {
  if (!tls.verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls.extra_ca_pem.empty()) {
    // libcurl loads a CA blob in addition to its default CA file.
    ca_blob->data = const_cast<char*>(tls.extra_ca_pem.data());
    ca_blob->len = tls.extra_ca_pem.size();
    ca_blob->flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, ca_blob);
  }
  if (!tls.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, tls.client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, tls.client_key.c_str());
  }
}

void SetMethod(CURL* h, const Request& r, Upload* upload) {
  if (r.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, Feed);
    curl_easy_setopt(h, CURLOPT_READDATA, upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (r.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
}

}  // namespace

std::string Response::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::vector<std::string> Response::HeaderValues(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == name) out.push_back(v);
  }
  return out;
}

bool Response::tls_failed() const {
  return curl_code == CURLE_PEER_FAILED_VERIFICATION || curl_code == CURLE_SSL_CONNECT_ERROR ||
         curl_code == CURLE_SSL_CACERT_BADFILE || curl_code == CURLE_SSL_CERTPROBLEM;
}

bool Response::tls_handshake_failed() const { return curl_code == CURLE_SSL_CONNECT_ERROR; }

bool Response::connect_failed() const {
  return curl_code == CURLE_COULDNT_RESOLVE_HOST || curl_code == CURLE_COULDNT_CONNECT ||
         curl_code == CURLE_OPERATION_TIMEDOUT;
}

bool Response::transient() const {
  if (curl_code != CURLE_OK) {
    return curl_code == CURLE_COULDNT_CONNECT || curl_code == CURLE_OPERATION_TIMEDOUT ||
           curl_code == CURLE_SEND_ERROR || curl_code == CURLE_RECV_ERROR ||
           curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_PARTIAL_FILE ||
           curl_code == CURLE_HTTP2 || curl_code == CURLE_HTTP2_STREAM;
  }
  return status >= 500 || status == 429 || status == 408;
}

Client::Client() {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Client::~Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Client::TakeHandle() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return curl_easy_init();
  void* h = idle_.back();
  idle_.pop_back();
  curl_easy_reset(static_cast<CURL*>(h));
  return h;
}

void Client::ReturnHandle(void* h) {
  std::lock_guard lock(mu_);
  idle_.push_back(h);
}

Response Client::Perform(const Request& r) {
  CURL* h = static_cast<CURL*>(TakeHandle());
  Response response;
  Exchange exchange{&r, &response, h};
  curl_slist* headers = nullptr;
  for (const std::string& line : r.headers) headers = curl_slist_append(headers, line.c_str());
  char error[CURL_ERROR_SIZE] = "";
  Upload upload{r.body};
  curl_blob ca_blob{};
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r.timeout_ms);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, r.stall_timeout_seconds);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  if (!r.aws_sigv4.empty()) curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r.aws_sigv4.c_str());
  if (!r.userpwd.empty()) curl_easy_setopt(h, CURLOPT_USERPWD, r.userpwd.c_str());
  SetTls(h, r.tls, &ca_blob);
  SetMethod(h, r, &upload);
  CURLcode code = curl_easy_perform(h);
  response.curl_code = code;
  if (code != CURLE_OK) response.curl_error = error[0] ? error : curl_easy_strerror(code);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  char* location = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
  if (location != nullptr) response.redirect_url = location;
  curl_slist_free_all(headers);
  ReturnHandle(h);
  return response;
}

RetryPolicy::RetryPolicy(Options options) : options_(options), tokens_(options.tokens) {}

bool RetryPolicy::WaitBeforeRetry(int attempt, std::chrono::milliseconds at_least) {
  std::chrono::milliseconds wait;
  {
    std::lock_guard lock(mu_);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    auto cap = std::min(options_.cap, options_.base * (1 << std::min(attempt, 16)));
    wait = std::chrono::milliseconds(
        std::uniform_int_distribution<long>(0, static_cast<long>(cap.count()))(rng_));
  }
  std::this_thread::sleep_for(std::max(wait, at_least));
  return true;
}

void RetryPolicy::RecordSuccess() {
  std::lock_guard lock(mu_);
  tokens_ = std::min(options_.tokens, tokens_ + options_.tokens_per_success);
}

std::string PercentEncode(const std::string& s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace lode::http
