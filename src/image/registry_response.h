// What a registry's answers mean, apart from the exchange that brought them
// (internal to image input; the registry fuzz target drives these with
// hostile answers): manifests, error bodies, token answers.
#pragma once

#include <optional>
#include <string>

#include "image/image.h"
#include "util/http.h"

namespace lode::image {

struct FetchedManifest {
  std::string media_type;  // from Content-Type, else the body's mediaType
  std::string bytes;
  Digest digest;  // sha256 of bytes
};

// The manifest in a 200 answer to a request for `reference` (a tag or a
// digest): by digest the body must hash to it; by tag it must hash to
// Docker-Content-Digest when the registry sends one. Schema 1 is refused.
// Messages start with "manifest REFERENCE".
Result<FetchedManifest> ReadManifestAnswer(const http::Response& r, const std::string& reference);

// "CODE: message" of the first {"errors":[...]} entry of an error body, on
// one line; "" when the body has none.
std::string RegistryErrorOf(const std::string& body);

struct Token {
  std::string token;
  long lifetime_seconds = 60;  // at least 60
};
// The bearer token in a token server's JSON answer, if there is one.
std::optional<Token> ParseTokenAnswer(const std::string& body);

}  // namespace lode::image
