// keyd's listeners. On a Unix socket callers are told apart by the
// kernel's account of who they are (SO_PEERCRED), not by who may connect,
// so the socket is open to every local user. On TCP (workers on other
// machines) every connection is TLS with a client certificate, and its
// subject is who the caller is. A thread per connection; many requests per
// connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "keyd/service.h"
#include "util/file.h"
#include "util/tls.h"

namespace lode::keyd {

class SocketServer {
 public:
  // Listens on `path` (a stale socket file is replaced; Rejected when a
  // keyd answers there).
  static Result<std::unique_ptr<SocketServer>> Start(const std::string& path, Service& service);
  // Listens on HOST:PORT (port 0: any free one) for TLS connections.
  static Result<std::unique_ptr<SocketServer>> StartTls(const std::string& address,
                                                        std::shared_ptr<TlsContext> tls,
                                                        Service& service);
  int port() const { return port_; }
  // Stops accepting, closes every connection and removes the socket file.
  ~SocketServer();

 private:
  SocketServer(std::string path, UniqueFd fd, std::shared_ptr<TlsContext> tls, Service& service);
  void Accept();
  void Serve(int fd);
  // Answers requests until the stream ends or breaks.
  void Converse(const Peer& peer, const keys::RequestReader::ReadFn& read,
                const std::function<Status(std::string_view)>& write);

  std::string path_;  // of the Unix socket; "" for TLS
  UniqueFd listen_fd_;
  std::shared_ptr<TlsContext> tls_;
  int port_ = 0;
  Service& service_;
  std::atomic<bool> stopping_ = false;
  std::mutex mu_;
  std::condition_variable ended_;
  std::map<int, UniqueFd> connections_;  // by fd; each served by a detached thread
  std::thread acceptor_;
};

}  // namespace lode::keyd
