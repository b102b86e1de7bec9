#include "image/registry_auth.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "util/base64.h"
#include "util/file.h"
#include "util/text.h"

extern char** environ;

namespace lode::image {
namespace {

using nlohmann::json;

constexpr size_t kMaxAuthFile = 1 << 20;
constexpr size_t kMaxHelperOutput = 1 << 20;

std::vector<std::string> DefaultAuthFiles() {
  std::vector<std::string> files;
  if (std::string f = GetEnv("REGISTRY_AUTH_FILE"); !f.empty()) files.push_back(f);
  if (std::string r = GetEnv("XDG_RUNTIME_DIR"); !r.empty()) {
    files.push_back(r + "/containers/auth.json");
  }
  std::string home = GetEnv("HOME");
  std::string config_home = GetEnv("XDG_CONFIG_HOME");
  if (config_home.empty() && !home.empty()) config_home = home + "/.config";
  if (!config_home.empty()) files.push_back(config_home + "/containers/auth.json");
  if (std::string d = GetEnv("DOCKER_CONFIG"); !d.empty()) {
    files.push_back(d + "/config.json");
  } else if (!home.empty()) {
    files.push_back(home + "/.docker/config.json");
  }
  return files;
}

// The host (and path) an auths key names: scheme and trailing slashes off,
// Docker Hub's aliases folded into docker.io.
std::string NormalizeAuthKey(std::string key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.starts_with(scheme)) key.erase(0, scheme.size());
  }
  while (key.ends_with("/")) key.pop_back();
  std::string host = key.substr(0, key.find('/'));
  if (host == "index.docker.io" || host == "registry-1.docker.io" || host == "docker.io") {
    // "https://index.docker.io/v1/" is docker's key for the whole of Docker Hub.
    std::string path = key.size() > host.size() ? key.substr(host.size()) : "";
    if (path == "/v1" || path == "/v2") path.clear();
    return "docker.io" + path;
  }
  return key;
}

// Writes `input` to a child's stdin. A child that exits without reading must
// not kill lode with SIGPIPE: the signal is blocked in this thread for the
// write and a pending one is consumed.
void WriteToChild(int fd, const std::string& input) {
  sigset_t pipe_only, previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  for (size_t done = 0; done < input.size();) {
    ssize_t n = ::write(fd, input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  timespec no_wait{};
  while (sigtimedwait(&pipe_only, nullptr, &no_wait) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

Result<std::string> RunHelper(const std::string& helper, const std::string& input) {
  std::string program = "docker-credential-" + helper;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::FromErrno(errno, "pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  char* argv[] = {program.data(), const_cast<char*>("get"), nullptr};
  pid_t pid;
  int err = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  UniqueFd to_child(in[1]), from_child(out[0]);
  if (err != 0) {
    return Status::NotFound("credential helper " + program + " is not installed");
  }
  WriteToChild(to_child.get(), input);
  to_child.Reset();
  std::string output;
  char buf[4096];
  while (output.size() < kMaxHelperOutput) {
    ssize_t n = ::read(from_child.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  from_child.Reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // "credentials not found in native keychain": nothing stored for the host.
    return Status::NotFound(program + " has no credentials for " + input);
  }
  return output;
}

Result<std::optional<RegistryCredentials>> FromHelper(const std::string& helper,
                                                      const std::string& registry) {
  std::string server = registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
  Result<std::string> output = RunHelper(helper, server);
  if (output.status().code() == StatusCode::kNotFound) return std::optional<RegistryCredentials>();
  LODE_RETURN_IF_ERROR(output.status());
  json doc = json::parse(*output, nullptr, false);
  if (!doc.is_object() || !doc.value("Secret", json()).is_string()) {
    return Status::Corruption("docker-credential-" + helper + " printed no credentials");
  }
  RegistryCredentials c;
  c.username = doc.value("Username", "");
  c.source = "docker-credential-" + helper;
  if (c.username == "<token>") {
    c.identity_token = doc["Secret"].get<std::string>();
    c.username.clear();
  } else {
    c.password = doc["Secret"].get<std::string>();
  }
  return std::optional(c);
}

Result<RegistryCredentials> FromAuthEntry(const json& entry, const std::string& file) {
  RegistryCredentials c;
  c.source = file;
  if (entry.contains("identitytoken") && entry["identitytoken"].is_string() &&
      !entry["identitytoken"].get<std::string>().empty()) {
    c.identity_token = entry["identitytoken"].get<std::string>();
    return c;
  }
  std::optional<std::string> decoded;
  if (entry.contains("auth") && entry["auth"].is_string()) {
    decoded = Base64Decode(entry["auth"].get<std::string>());
  }
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    return Status::Corruption(file + ": an \"auth\" entry is not base64 of user:password");
  }
  c.username = decoded->substr(0, colon);
  c.password = decoded->substr(colon + 1);
  return c;
}

// The auths entry for registry/repository: the longest key that is the
// registry itself or a repository prefix of it.
const json* MatchAuths(const json& auths, const std::string& registry,
                       const std::string& repository) {
  const json* best = nullptr;
  size_t best_length = 0;
  std::string full = registry + "/" + repository;
  for (const auto& [key, value] : auths.items()) {
    std::string k = NormalizeAuthKey(key);
    bool match = k == registry || (full.starts_with(k + "/") || full == k);
    if (match && k.size() >= best_length && value.is_object()) {
      best = &value;
      best_length = k.size();
    }
  }
  return best;
}

Result<std::optional<RegistryCredentials>> FromFile(const std::string& file,
                                                    const std::string& registry,
                                                    const std::string& repository) {
  LODE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(file));
  if (text.size() > kMaxAuthFile) return Status::InvalidArgument(file + " is too large");
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) return Status::Corruption(file + ": not a JSON object");
  if (doc.contains("credHelpers") && doc["credHelpers"].is_object()) {
    for (const auto& [key, helper] : doc["credHelpers"].items()) {
      if (NormalizeAuthKey(key) == registry && helper.is_string()) {
        return FromHelper(helper.get<std::string>(), registry);
      }
    }
  }
  if (doc.contains("auths") && doc["auths"].is_object()) {
    if (const json* entry = MatchAuths(doc["auths"], registry, repository)) {
      LODE_ASSIGN_OR_RETURN(RegistryCredentials c, FromAuthEntry(*entry, file));
      return std::optional(c);
    }
  }
  if (doc.contains("credsStore") && doc["credsStore"].is_string()) {
    return FromHelper(doc["credsStore"].get<std::string>(), registry);
  }
  return std::optional<RegistryCredentials>();
}

}  // namespace

Result<RegistryCredentials> ParseCredentialsFlag(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("--creds takes USER:PASSWORD");
  }
  return RegistryCredentials{text.substr(0, colon), text.substr(colon + 1), "", "--creds"};
}

Result<std::optional<RegistryCredentials>> FindCredentials(const std::string& registry,
                                                           const std::string& repository,
                                                           const std::string& auth_file) {
  if (!auth_file.empty()) {
    if (::access(auth_file.c_str(), R_OK) != 0) {
      return Status::FromErrno(errno, "auth file " + auth_file);
    }
    return FromFile(auth_file, registry, repository);
  }
  for (const std::string& file : DefaultAuthFiles()) {
    if (::access(file.c_str(), R_OK) != 0) continue;
    LODE_ASSIGN_OR_RETURN(std::optional<RegistryCredentials> found,
                          FromFile(file, registry, repository));
    if (found) return found;
  }
  return std::optional<RegistryCredentials>();
}

std::string AuthChallenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

namespace {

// Parses one header value: `Scheme k=v, k="v", Scheme2 k=v`.
void ParseChallengeValue(const std::string& v, std::vector<AuthChallenge>* out) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < v.size() && v[i] != ' ' && v[i] != '\t' && v[i] != ',' && v[i] != '=' &&
           v[i] != '"') {
      ++i;
    }
    return v.substr(start, i - start);
  };
  while (true) {
    skip_space();
    if (i >= v.size()) return;
    std::string word = token();
    if (i < v.size() && v[i] == '=' && !out->empty()) {
      ++i;
      std::string value;
      if (i < v.size() && v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i) {
          if (v[i] == '\\' && i + 1 < v.size()) ++i;
          value += v[i];
        }
        ++i;
      } else {
        size_t start = i;
        while (i < v.size() && v[i] != ',') ++i;
        value = v.substr(start, i - start);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      }
      out->back().params[AsciiLower(word)] = value;
    } else if (!word.empty()) {
      out->push_back({AsciiLower(word), {}});
    } else {
      ++i;  // a stray '=' or quote: skip it
    }
  }
}

}  // namespace

std::vector<AuthChallenge> ParseChallenges(const std::vector<std::string>& header_values) {
  std::vector<AuthChallenge> out;
  for (const std::string& v : header_values) ParseChallengeValue(v, &out);
  return out;
}

}  // namespace lode::image
