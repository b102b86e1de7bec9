#include "store/s3_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "util/sha256.h"

namespace lode::store {
namespace {

constexpr int kMaxAttempts = 4;
constexpr std::chrono::milliseconds kBackoffBase{50};
constexpr std::chrono::milliseconds kBackoffCap{2000};
constexpr long kConnectTimeoutMs = 3000;
constexpr long kDefaultTimeoutMs = 30000;
// Retries spend tokens that successes earn back, so a failing server sees
// at most ~10% extra requests rather than a retry storm.
constexpr double kRetryTokensMax = 20;
constexpr double kRetryTokensPerSuccess = 0.1;

struct Credentials {
  std::string access_key, secret_key, session_token;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

Result<Credentials> LoadCredentials() {
  Credentials c{Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"), Env("AWS_SESSION_TOKEN")};
  if (!c.access_key.empty() && !c.secret_key.empty()) return c;
  std::string file = Env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) file = Env("HOME") + "/.aws/credentials";
  std::string profile = Env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::ifstream in(file);
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (section != profile || eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key = value;
    if (key == "aws_secret_access_key") c.secret_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (c.access_key.empty() || c.secret_key.empty()) {
    return Status::InvalidArgument(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a credentials file");
  }
  return c;
}

// Percent-encodes everything but unreserved characters (and '/' in paths).
std::string Encode(const std::string& s, bool keep_slash) {
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

std::string Unescape(std::string s) {  // the five XML entities
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1)) {
      s.replace(p, std::strlen(from), to);
    }
  }
  return s;
}

// Text of every <tag>...</tag> in `xml`.
std::vector<std::string> Elements(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t p = xml.find(open); p != std::string::npos; p = xml.find(open, p)) {
    size_t start = p + open.size(), end = xml.find(close, start);
    if (end == std::string::npos) break;
    out.push_back(Unescape(xml.substr(start, end - start)));
    p = end + close.size();
  }
  return out;
}

struct Response {
  long http = 0;
  CURLcode curl = CURLE_OK;
  std::string body;
  std::string curl_error;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Upload {
  std::span<const uint8_t> data;
  size_t offset = 0;
};

size_t Feed(char* buffer, size_t size, size_t n, void* in) {
  auto* u = static_cast<Upload*>(in);
  size_t take = std::min(size * n, u->data.size() - u->offset);
  std::memcpy(buffer, u->data.data() + u->offset, take);
  u->offset += take;
  return take;
}

bool Retryable(const Response& r) {
  if (r.curl != CURLE_OK) {
    return r.curl == CURLE_COULDNT_CONNECT || r.curl == CURLE_OPERATION_TIMEDOUT ||
           r.curl == CURLE_SEND_ERROR || r.curl == CURLE_RECV_ERROR ||
           r.curl == CURLE_GOT_NOTHING || r.curl == CURLE_PARTIAL_FILE;
  }
  return r.http >= 500 || r.http == 429 || r.http == 408;
}

class S3Store : public ObjectStore {
 public:
  S3Store(std::string endpoint, std::string region, std::string bucket, std::string prefix,
          Credentials creds, long timeout_ms)
      : endpoint_(std::move(endpoint)),
        region_(std::move(region)),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        creds_(std::move(creds)),
        timeout_ms_(timeout_ms) {}

  ~S3Store() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Status Put(const std::string& key, std::span<const uint8_t> data) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    std::string hash = ToHex(Sha256::Of(data));
    Response r = Call("PUT", ObjectPath(key), "", data, hash);
    return Check(r, "put " + key);
  }

  Result<std::vector<uint8_t>> Get(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    Response r = Call("GET", ObjectPath(key), "", {}, "");
    if (r.curl == CURLE_OK && r.http == 404 && !IsNoSuchBucket(r)) {
      return Status::NotFound(key + " in " + Describe());
    }
    LODE_RETURN_IF_ERROR(Check(r, "get " + key));
    return std::vector<uint8_t>(r.body.begin(), r.body.end());
  }

  Result<bool> Exists(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    Response r = Call("HEAD", ObjectPath(key), "", {}, "");
    if (r.curl == CURLE_OK && r.http == 404) {
      // HEAD has no body to tell a missing bucket from a missing key: ask
      // once, not on every miss (a push asks for each of its chunks).
      if (!bucket_seen_) {
        LODE_RETURN_IF_ERROR(CheckBucket());
        bucket_seen_ = true;
      }
      return false;
    }
    LODE_RETURN_IF_ERROR(Check(r, "stat " + key));
    return true;
  }

  Result<std::vector<ObjectInfo>> ListObjects(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::string token;
    do {
      // Parameters sorted by name and encoded: libcurl signs the query as is.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + Encode(token, false) + "&";
      query += "list-type=2&prefix=" + Encode(prefix_ + prefix, false);
      Response r = Call("GET", "/" + bucket_, query, {}, "");
      LODE_RETURN_IF_ERROR(Check(r, "list " + prefix));
      std::vector<std::string> keys = Elements(r.body, "Key");
      std::vector<std::string> sizes = Elements(r.body, "Size");
      if (sizes.size() != keys.size()) return Status::IOError("list " + prefix + ": bad response");
      for (size_t i = 0; i < keys.size(); ++i) {
        ObjectInfo info{keys[i].substr(prefix_.size()), 0};
        const std::string& size = sizes[i];
        auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), info.size);
        if (ec != std::errc() || end != size.data() + size.size()) {
          return Status::IOError("list " + prefix + ": bad size '" + size + "'");
        }
        if (ValidateKey(info.key).ok()) out.push_back(std::move(info));
      }
      std::vector<std::string> truncated = Elements(r.body, "IsTruncated");
      std::vector<std::string> next = Elements(r.body, "NextContinuationToken");
      token = !truncated.empty() && truncated[0] == "true" && !next.empty() ? next[0] : "";
    } while (!token.empty());
    std::sort(out.begin(), out.end());
    return out;
  }

  Status Delete(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    Response r = Call("DELETE", ObjectPath(key), "", {}, "");
    if (r.curl == CURLE_OK && r.http == 404 && !IsNoSuchBucket(r)) return Status::Ok();
    return Check(r, "delete " + key);
  }

  std::string Describe() const override {
    return "s3://" + bucket_ + "/" + prefix_ + " at " + endpoint_;
  }

  Status CheckBucket() {
    Response r = Call("HEAD", "/" + bucket_, "", {}, "");
    if (r.curl == CURLE_OK && r.http == 404) {
      return Status::NotFound("bucket '" + bucket_ + "' does not exist at " + endpoint_);
    }
    return Check(r, "open bucket " + bucket_);
  }

 private:
  std::string ObjectPath(const std::string& key) const {
    return "/" + bucket_ + "/" + Encode(prefix_ + key, true);
  }

  static bool IsNoSuchBucket(const Response& r) {
    return r.body.find("<Code>NoSuchBucket</Code>") != std::string::npos;
  }

  Status Check(const Response& r, const std::string& what) const {
    if (r.curl != CURLE_OK) {
      return Status::Unavailable(what + ": " + endpoint_ + " unreachable (" + r.curl_error + ")");
    }
    if (r.http >= 200 && r.http < 300) return Status::Ok();
    std::vector<std::string> code = Elements(r.body, "Code");
    std::string detail = code.empty() ? "HTTP " + std::to_string(r.http) : code[0];
    if (r.http == 403) {
      return Status::Rejected(what + ": access denied by " + endpoint_ + " (" + detail +
                              "): check the S3 credentials and permissions");
    }
    if (detail == "NoSuchBucket") {
      return Status::NotFound(what + ": bucket '" + bucket_ + "' does not exist at " + endpoint_);
    }
    if (r.http >= 500)
      return Status::Unavailable(what + ": " + endpoint_ + " failed (" + detail + ")");
    return Status::IOError(what + ": " + endpoint_ + " answered " + detail);
  }

  // One request with retries (capped exponential backoff, full jitter) for
  // retryable failures only, within the retry budget.
  Response Call(const std::string& method, const std::string& path, const std::string& query,
                std::span<const uint8_t> body, const std::string& body_sha256) {
    Response r;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) {
        if (!SpendRetryToken()) break;
        auto cap = std::min(kBackoffCap, kBackoffBase * (1 << attempt));
        std::this_thread::sleep_for(std::chrono::milliseconds(Jitter(cap.count())));
      }
      r = Once(method, path, query, body, body_sha256);
      if (!Retryable(r)) break;
    }
    if (!Retryable(r)) EarnRetryToken();
    return r;
  }

  Response Once(const std::string& method, const std::string& path, const std::string& query,
                std::span<const uint8_t> body, const std::string& body_sha256) {
    CURL* h = TakeHandle();
    Response r;
    std::string url = endpoint_ + path + (query.empty() ? "" : "?" + query);
    std::string sigv4 = "aws:amz:" + region_ + ":s3";
    std::string userpwd = creds_.access_key + ":" + creds_.secret_key;
    curl_slist* headers = nullptr;
    // libcurl 7.88 does not send the payload hash itself; the server wants it.
    std::string content =
        "x-amz-content-sha256: " + (body_sha256.empty() ? "UNSIGNED-PAYLOAD" : body_sha256);
    headers = curl_slist_append(headers, content.c_str());
    std::string token = "x-amz-security-token: " + creds_.session_token;
    if (!creds_.session_token.empty()) headers = curl_slist_append(headers, token.c_str());
    char error[CURL_ERROR_SIZE] = "";
    Upload upload{body};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, Feed);
      curl_easy_setopt(h, CURLOPT_READDATA, &upload);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "DELETE") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    r.curl = curl_easy_perform(h);
    if (r.curl != CURLE_OK) r.curl_error = error[0] ? error : curl_easy_strerror(r.curl);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.http);
    curl_slist_free_all(headers);
    ReturnHandle(h);
    return r;
  }

  // Handles keep their connections: reusing them keeps requests on warm
  // keep-alive connections.
  CURL* TakeHandle() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return curl_easy_init();
    CURL* h = idle_.back();
    idle_.pop_back();
    curl_easy_reset(h);
    return h;
  }
  void ReturnHandle(CURL* h) {
    std::lock_guard lock(mu_);
    idle_.push_back(h);
  }

  bool SpendRetryToken() {
    std::lock_guard lock(mu_);
    if (retry_tokens_ < 1) return false;
    retry_tokens_ -= 1;
    return true;
  }
  void EarnRetryToken() {
    std::lock_guard lock(mu_);
    retry_tokens_ = std::min(kRetryTokensMax, retry_tokens_ + kRetryTokensPerSuccess);
  }
  long Jitter(long max_ms) {
    std::lock_guard lock(mu_);
    return std::uniform_int_distribution<long>(0, max_ms)(rng_);
  }

  std::string endpoint_, region_, bucket_, prefix_;
  Credentials creds_;
  long timeout_ms_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
  double retry_tokens_ = kRetryTokensMax;
  std::atomic<bool> bucket_seen_ = false;
  std::mt19937 rng_{std::random_device{}()};
};

std::map<std::string, std::string> ParseQuery(const std::string& q) {
  std::map<std::string, std::string> out;
  for (size_t start = 0; start < q.size();) {
    size_t amp = q.find('&', start);
    if (amp == std::string::npos) amp = q.size();
    std::string pair = q.substr(start, amp - start);
    size_t eq = pair.find('=');
    out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    start = amp + 1;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::string rest = url.substr(std::string_view("s3://").size());
  std::string query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string bucket = rest.substr(0, rest.find('/'));
  std::string prefix = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!prefix.empty()) prefix += "/";
  if (bucket.empty()) return Status::InvalidArgument("store URL '" + url + "' has no bucket");
  std::map<std::string, std::string> params = ParseQuery(query);
  std::string endpoint = params.count("endpoint") ? params["endpoint"] : "";
  std::string region = params.count("region") ? params["region"] : Env("AWS_REGION");
  if (region.empty()) region = "us-east-1";
  if (endpoint.empty()) endpoint = "https://s3." + region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("store URL '" + url + "': endpoint must be http:// or https://");
  }
  long timeout_ms =
      params.count("timeout_ms") ? std::atol(params["timeout_ms"].c_str()) : kDefaultTimeoutMs;
  LODE_ASSIGN_OR_RETURN(Credentials creds, LoadCredentials());
  return std::unique_ptr<ObjectStore>(
      std::make_unique<S3Store>(endpoint, region, bucket, prefix, std::move(creds), timeout_ms));
}

}  // namespace lode::store
