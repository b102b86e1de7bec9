#include "store/s3_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "util/http.h"
#include "util/sha256.h"
#include "util/text.h"

namespace lode::store {
namespace {

constexpr long kConnectTimeoutMs = 3000;
constexpr long kDefaultTimeoutMs = 30000;
// Objects are chunks (a few MiB at most), manifests and listings.
constexpr size_t kMaxResponseBytes = 256u << 20;

struct Credentials {
  std::string access_key, secret_key, session_token;
};

// The environment's credentials, else those of `profile` (default:
// $AWS_PROFILE, else "default") in the shared credentials file. A profile
// named in the store URL (a role's own credentials) beats the environment.
Result<Credentials> LoadCredentials(const std::string& url_profile) {
  Credentials c{GetEnv("AWS_ACCESS_KEY_ID"), GetEnv("AWS_SECRET_ACCESS_KEY"),
                GetEnv("AWS_SESSION_TOKEN")};
  if (url_profile.empty() && !c.access_key.empty() && !c.secret_key.empty()) return c;
  c = {};
  std::string file = GetEnv("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) file = GetEnv("HOME") + "/.aws/credentials";
  std::string profile = url_profile.empty() ? GetEnv("AWS_PROFILE") : url_profile;
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
    if (!url_profile.empty()) {
      return Status::InvalidArgument("no S3 credentials for profile '" + url_profile + "' in " +
                                     file);
    }
    return Status::InvalidArgument(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a credentials file");
  }
  return c;
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

  Status Put(const std::string& key, std::span<const uint8_t> data) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    std::string hash = ToHex(Sha256::Of(data));
    http::Response r = Call("PUT", ObjectPath(key), "", data, hash);
    return Check(r, "put " + key);
  }

  Result<std::vector<uint8_t>> Get(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    http::Response r = Call("GET", ObjectPath(key), "", {}, "");
    if (r.completed() && r.status == 404 && !IsNoSuchBucket(r)) {
      return Status::NotFound(key + " in " + Describe());
    }
    LODE_RETURN_IF_ERROR(Check(r, "get " + key));
    return std::vector<uint8_t>(r.body.begin(), r.body.end());
  }

  Result<bool> Exists(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    http::Response r = Call("HEAD", ObjectPath(key), "", {}, "");
    if (r.completed() && r.status == 404) {
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

  Result<bool> ExistsByListing(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    std::string query =
        "list-type=2&max-keys=1&prefix=" + http::PercentEncode(prefix_ + key, false);
    http::Response r = Call("GET", "/" + bucket_, query, {}, "");
    LODE_RETURN_IF_ERROR(Check(r, "list " + key));
    Result<ListPage> page = ParseListPage(r.body, prefix_);
    if (!page.ok()) return page.status().WithContext("list " + key);
    return !page->objects.empty() && page->objects[0].key == key;
  }

  Result<std::vector<ObjectInfo>> ListObjects(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::string token;
    do {
      // Parameters sorted by name and encoded: libcurl signs the query as is.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + http::PercentEncode(token, false) + "&";
      query += "list-type=2&prefix=" + http::PercentEncode(prefix_ + prefix, false);
      http::Response r = Call("GET", "/" + bucket_, query, {}, "");
      LODE_RETURN_IF_ERROR(Check(r, "list " + prefix));
      Result<ListPage> page = ParseListPage(r.body, prefix_);
      if (!page.ok()) return page.status().WithContext("list " + prefix);
      for (ObjectInfo& info : page->objects) {
        if (ValidateKey(info.key).ok()) out.push_back(std::move(info));
      }
      if (!page->next_token.empty() && page->next_token == token) {
        return Status::IOError("list " + prefix + ": the store sent the same page token again");
      }
      token = page->next_token;
    } while (!token.empty());
    std::sort(out.begin(), out.end());
    return out;
  }

  Status Delete(const std::string& key) override {
    LODE_RETURN_IF_ERROR(ValidateKey(key));
    http::Response r = Call("DELETE", ObjectPath(key), "", {}, "");
    if (r.completed() && r.status == 404 && !IsNoSuchBucket(r)) return Status::Ok();
    return Check(r, "delete " + key);
  }

  std::string Describe() const override {
    return "s3://" + bucket_ + "/" + prefix_ + " at " + endpoint_;
  }

  Status CheckBucket() {
    http::Response r = Call("HEAD", "/" + bucket_, "", {}, "");
    if (r.completed() && r.status == 404) {
      return Status::NotFound("bucket '" + bucket_ + "' does not exist at " + endpoint_);
    }
    return Check(r, "open bucket " + bucket_);
  }

 private:
  std::string ObjectPath(const std::string& key) const {
    return "/" + bucket_ + "/" + http::PercentEncode(prefix_ + key, true);
  }

  static bool IsNoSuchBucket(const http::Response& r) {
    return r.body.find("<Code>NoSuchBucket</Code>") != std::string::npos;
  }

  Status Check(const http::Response& r, const std::string& what) const {
    if (!r.completed()) {
      return Status::Unavailable(what + ": " + endpoint_ + " unreachable (" + r.curl_error + ")");
    }
    if (r.status >= 200 && r.status < 300) return Status::Ok();
    std::vector<std::string> code = Elements(r.body, "Code");
    std::string detail = code.empty() ? "HTTP " + std::to_string(r.status) : code[0];
    if (r.status == 403) {
      return Status::Rejected(what + ": access denied by " + endpoint_ + " (" + detail +
                              "): check the S3 credentials and permissions");
    }
    if (detail == "NoSuchBucket") {
      return Status::NotFound(what + ": bucket '" + bucket_ + "' does not exist at " + endpoint_);
    }
    if (r.status >= 500)
      return Status::Unavailable(what + ": " + endpoint_ + " failed (" + detail + ")");
    return Status::IOError(what + ": " + endpoint_ + " answered " + detail);
  }

  // One request with retries for transient failures only, within the
  // retry budget.
  http::Response Call(const std::string& method, const std::string& path, const std::string& query,
                      std::span<const uint8_t> body, const std::string& body_sha256) {
    http::Response r;
    for (int attempt = 0; attempt < retry_.max_attempts(); ++attempt) {
      if (attempt > 0 && !retry_.WaitBeforeRetry(attempt)) break;
      r = Once(method, path, query, body, body_sha256);
      if (!r.transient()) break;
    }
    if (!r.transient()) retry_.RecordSuccess();
    return r;
  }

  http::Response Once(const std::string& method, const std::string& path, const std::string& query,
                      std::span<const uint8_t> body, const std::string& body_sha256) {
    http::Request request;
    request.method = method;
    request.url = endpoint_ + path + (query.empty() ? "" : "?" + query);
    request.aws_sigv4 = "aws:amz:" + region_ + ":s3";
    request.userpwd = creds_.access_key + ":" + creds_.secret_key;
    // libcurl 7.88 does not send the payload hash itself; the server wants it.
    request.headers.push_back("x-amz-content-sha256: " +
                              (body_sha256.empty() ? "UNSIGNED-PAYLOAD" : body_sha256));
    if (!creds_.session_token.empty()) {
      request.headers.push_back("x-amz-security-token: " + creds_.session_token);
    }
    request.body = body;
    request.connect_timeout_ms = kConnectTimeoutMs;
    request.timeout_ms = timeout_ms_;
    request.max_body = kMaxResponseBytes;
    return client_.Perform(request);
  }

  std::string endpoint_, region_, bucket_, prefix_;
  Credentials creds_;
  long timeout_ms_;
  http::Client client_;
  http::RetryPolicy retry_;
  std::atomic<bool> bucket_seen_ = false;
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

Result<ListPage> ParseListPage(const std::string& xml, const std::string& key_prefix) {
  std::vector<std::string> keys = Elements(xml, "Key");
  std::vector<std::string> sizes = Elements(xml, "Size");
  if (sizes.size() != keys.size()) return Status::IOError("bad response (keys without sizes)");
  ListPage page;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].starts_with(key_prefix)) continue;
    ObjectInfo info{keys[i].substr(key_prefix.size()), 0};
    const std::string& size = sizes[i];
    auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), info.size);
    if (ec != std::errc() || end != size.data() + size.size()) {
      return Status::IOError("bad size '" + size.substr(0, 40) + "'");
    }
    page.objects.push_back(std::move(info));
  }
  std::vector<std::string> truncated = Elements(xml, "IsTruncated");
  std::vector<std::string> next = Elements(xml, "NextContinuationToken");
  if (!truncated.empty() && truncated[0] == "true") {
    if (next.empty() || next[0].empty()) return Status::IOError("truncated page without a token");
    page.next_token = next[0];
  }
  return page;
}

Result<S3Location> ParseS3Url(const std::string& url) {
  if (url.rfind("s3://", 0) != 0) return Status::InvalidArgument("'" + url + "' is not s3://");
  std::string rest = url.substr(std::string_view("s3://").size());
  std::string query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Location l;
  l.bucket = rest.substr(0, rest.find('/'));
  l.prefix = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  while (!l.prefix.empty() && l.prefix.back() == '/') l.prefix.pop_back();
  if (!l.prefix.empty()) l.prefix += "/";
  if (l.bucket.empty()) return Status::InvalidArgument("store URL '" + url + "' has no bucket");
  l.params = ParseQuery(query);
  return l;
}

Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url) {
  LODE_ASSIGN_OR_RETURN(S3Location location, ParseS3Url(url));
  std::string bucket = location.bucket, prefix = location.prefix;
  std::map<std::string, std::string>& params = location.params;
  std::string endpoint = params.count("endpoint") ? params["endpoint"] : "";
  std::string region = params.count("region") ? params["region"] : GetEnv("AWS_REGION");
  if (region.empty()) region = "us-east-1";
  if (endpoint.empty()) endpoint = "https://s3." + region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("store URL '" + url + "': endpoint must be http:// or https://");
  }
  long timeout_ms =
      params.count("timeout_ms") ? std::atol(params["timeout_ms"].c_str()) : kDefaultTimeoutMs;
  LODE_ASSIGN_OR_RETURN(Credentials creds, LoadCredentials(params["profile"]));
  return std::unique_ptr<ObjectStore>(
      std::make_unique<S3Store>(endpoint, region, bucket, prefix, std::move(creds), timeout_ms));
}

}  // namespace lode::store
