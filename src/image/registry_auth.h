// Registry credentials and authentication challenges.
//
// Credentials are found the way containers/image and docker find them, so
// a user's existing `podman login` / `docker login` works: an explicit
// --authfile alone, else $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/
// auth.json, ~/.config/containers/auth.json, $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, first match wins. In each file: credHelpers[host],
// then auths (base64 "user:password" or an identitytoken; keys may carry a
// scheme, a path or a repository prefix, the most specific wins), then the
// file's credsStore. Helpers run as `docker-credential-NAME get`.
//
// Nothing here puts a secret into a Status message.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::image {

struct RegistryCredentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token (docker's "identitytoken"): exchanged at the
  // token realm instead of the password.
  std::string identity_token;
  std::string source;  // where they came from, for messages ("--creds", a file)
};

// "USER:PASSWORD" as given to --creds.
Result<RegistryCredentials> ParseCredentialsFlag(const std::string& text);

// Looks up `registry` ("docker.io", "host:port") for `repository`.
// `auth_file` non-empty: only that file is read, and it must exist.
Result<std::optional<RegistryCredentials>> FindCredentials(const std::string& registry,
                                                           const std::string& repository,
                                                           const std::string& auth_file);

// One challenge of a WWW-Authenticate header: scheme lower-cased, parameter
// names lower-cased, quoted values unquoted.
struct AuthChallenge {
  std::string scheme;  // "bearer", "basic"
  std::map<std::string, std::string> params;
  std::string Param(const std::string& name) const;
};

// Parses every challenge in the header values (a value may hold several,
// and parameter values may hold ',' and ':' inside quotes).
std::vector<AuthChallenge> ParseChallenges(const std::vector<std::string>& header_values);

}  // namespace lode::image
