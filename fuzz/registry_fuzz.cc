// What registries and users hand the registry client: WWW-Authenticate
// challenges (one header value per line), base64 credentials, --creds
// values and image references.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "image/reference.h"
#include "image/registry_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::image;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  (void)ParseChallenges(lines);
  (void)Base64Decode(text);
  (void)ParseCredentialsFlag(text);
  (void)ParseImageReference(text);
  (void)ParseRegistryReference(text);
  return 0;
}
