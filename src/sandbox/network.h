// Network namespaces for sandboxes: each gets its own loopback (where the
// host serves it its own API, out of reach of every other sandbox) and,
// when it may reach out, outbound NAT through slirp4netns (user-mode
// networking: no bridge, no firewall rule, nothing configured on the host;
// the host's own loopback stays out of reach).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "util/file.h"
#include "util/status.h"

namespace lode::sandbox {

class NetworkNamespace {
 public:
  // A new network namespace with only `lo`, up.
  static Result<std::unique_ptr<NetworkNamespace>> Create();
  // A TCP socket bound and listening at `ip`:`port` inside the namespace;
  // the caller accepts on it from outside.
  Result<UniqueFd> Listen(const std::string& ip, int port) const;
  // Starts slirp4netns on the namespace: tap0 10.0.2.100/24, gateway
  // 10.0.2.2, DNS 10.0.2.3. It ends with this object (or this process).
  Status ConnectOutbound();
  // What a runtime's OCI config joins: a path to the namespace.
  std::string Path() const;
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

 private:
  explicit NetworkNamespace(UniqueFd ns) : ns_(std::move(ns)) {}
  UniqueFd ns_;
  pid_t slirp_ = -1;
  UniqueFd slirp_exit_;  // closing it tells slirp4netns to exit
};

// The resolver a sandbox with outbound network uses.
constexpr const char* kOutboundResolvConf = "nameserver 10.0.2.3\n";

}  // namespace lode::sandbox
