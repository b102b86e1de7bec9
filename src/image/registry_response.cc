#include "image/registry_response.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "image/image_internal.h"
#include "util/sha256.h"
#include "util/text.h"

namespace lode::image {
namespace {

using nlohmann::json;

std::string MediaTypeOf(const http::Response& r) {
  std::string type = r.Header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

// Registries that answer with a generic type leave the body to say what
// it is.
std::string SniffedMediaType(const std::string& type, const std::string& body) {
  if (!type.empty() && type != "application/json" && type != "text/plain" &&
      type != "application/octet-stream") {
    return type;
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.value("schemaVersion", json(0)) == json(1)) {
    return std::string(kDockerSchema1);
  }
  if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()) {
    return doc["mediaType"];
  }
  return type;
}

}  // namespace

Result<FetchedManifest> ReadManifestAnswer(const http::Response& r, const std::string& reference) {
  std::string what = "manifest " + reference;
  FetchedManifest m;
  m.bytes = r.body;
  m.digest.bytes = Sha256::Of(m.bytes);
  m.media_type = SniffedMediaType(MediaTypeOf(r), m.bytes);
  if (m.media_type.starts_with(kDockerSchema1)) {
    return Status::InvalidArgument(what +
                                   " is a Docker schema 1 manifest, which lode does not read "
                                   "(deprecated): push the image again with a current tool");
  }
  Result<Digest> pinned = ParseDigest(reference);
  std::string claimed = r.Header("docker-content-digest");
  if (pinned.ok() && !(m.digest == *pinned)) {
    return Status::Corruption(what + ": content is " + m.digest.ToString());
  }
  if (!pinned.ok() && !claimed.empty() && claimed != m.digest.ToString()) {
    return Status::Corruption(what + ": the registry says " + Excerpt(claimed) +
                              " but the content is " + m.digest.ToString());
  }
  return m;
}

std::string RegistryErrorOf(const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array() ||
      doc["errors"].empty() || !doc["errors"][0].is_object()) {
    return "";
  }
  const json& e = doc["errors"][0];
  std::string code = e.value("code", json("")).is_string() ? e.value("code", "") : "";
  std::string message = e.value("message", json("")).is_string() ? e.value("message", "") : "";
  return Excerpt(code + (message.empty() ? "" : ": " + message));
}

std::optional<Token> ParseTokenAnswer(const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  Token t;
  for (const char* key : {"token", "access_token"}) {
    if (doc.contains(key) && doc[key].is_string() && t.token.empty()) t.token = doc[key];
  }
  if (t.token.empty()) return std::nullopt;
  if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
    // Bounded both ways: at least a minute, and no later than a day.
    t.lifetime_seconds = std::clamp(doc["expires_in"].get<long>(), 60L, 86400L);
  }
  return t;
}

}  // namespace lode::image
