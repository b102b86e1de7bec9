// What registries and users hand the registry client: WWW-Authenticate
// challenges (one header value per line), base64 credentials, --creds
// values and image references; and registry answers (image/
// registry_response.h): the input's first line is the Content-Type, the
// second the Docker-Content-Digest, the third the reference asked for, the
// rest the body of a manifest, error or token answer.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "image/reference.h"
#include "image/registry_auth.h"
#include "image/registry_response.h"
#include "util/base64.h"

namespace {

std::string NextLine(std::string& text) {
  size_t nl = text.find('\n');
  std::string line = text.substr(0, nl);
  text = nl == std::string::npos ? "" : text.substr(nl + 1);
  return line;
}

void Answers(std::string text) {
  using namespace lode;
  http::Response r;
  r.status = 200;
  r.headers.emplace_back("content-type", NextLine(text));
  r.headers.emplace_back("docker-content-digest", NextLine(text));
  std::string reference = NextLine(text);
  r.body = text;
  (void)image::ReadManifestAnswer(r, reference);
  (void)image::RegistryErrorOf(r.body);
  (void)image::ParseTokenAnswer(r.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::image;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  (void)ParseChallenges(lines);
  (void)lode::Base64Decode(text);
  (void)ParseCredentialsFlag(text);
  (void)ParseImageReference(text);
  (void)ParseRegistryReference(text);
  Answers(text);
  return 0;
}
