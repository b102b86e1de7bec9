// Real OCI registries for tests: scripts/registry.sh starts Debian's
// docker-registry (distribution 2.8) on 127.0.0.1 in several auth modes over
// one storage directory, with a token server, a blob host for redirects and
// tampering proxies. Stopped on destruction.
#pragma once

#include <map>
#include <string>

namespace lode::testing {

class RegistryServers {
 public:
  explicit RegistryServers(const std::string& dir);
  ~RegistryServers();
  RegistryServers(const RegistryServers&) = delete;
  RegistryServers& operator=(const RegistryServers&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // A value of the fixture's env file: PLAIN, BASIC, TOKEN, REDIRECT, PROXY,
  // TPROXY (host:port), CA, CERT_DIR, USER, PASSWORD, ...
  std::string Get(const std::string& name) const;
  const std::string& dir() const { return dir_; }

  // Copies an image into the registry with skopeo: `from` is a skopeo
  // source ("oci:DIR:REF"), `repo_tag` is "lode/x:tag" on the plain server.
  // `extra` goes to skopeo copy (--all, --format v2s2).
  bool Push(const std::string& from, const std::string& repo_tag, const std::string& extra = "");

  // The mode file of a proxy ("proxy" or "tproxy"): scripts/registry_servers.py.
  void SetMode(const std::string& proxy, const std::string& mode);
  // A server's request log, and clearing it.
  std::string Log(const std::string& name) const;
  void ClearLog(const std::string& name);
  // Stops or restarts one server on the same port.
  void Stop(const std::string& name);
  bool Start(const std::string& name);
  // Token lifetime in seconds for tokens issued from now on.
  void SetTokenLifetime(int seconds);

 private:
  std::string Script() const;
  std::string dir_, error_;
  std::map<std::string, std::string> env_;
  bool ok_ = false;
};

}  // namespace lode::testing
