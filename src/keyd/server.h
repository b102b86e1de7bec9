// keyd on a Unix socket: callers are told apart by the kernel's account of
// who they are (SO_PEERCRED), not by who may connect, so the socket is
// open to every local user. A thread per connection; many requests per
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

namespace lode::keyd {

class SocketServer {
 public:
  // Listens on `path` (a stale socket file is replaced; Rejected when a
  // keyd answers there).
  static Result<std::unique_ptr<SocketServer>> Start(const std::string& path, Service& service);
  // Stops accepting, closes every connection and removes the socket file.
  ~SocketServer();

 private:
  SocketServer(std::string path, UniqueFd fd, Service& service);
  void Accept();
  void Serve(int fd);

  std::string path_;
  UniqueFd listen_fd_;
  Service& service_;
  std::atomic<bool> stopping_ = false;
  std::mutex mu_;
  std::condition_variable ended_;
  std::map<int, UniqueFd> connections_;  // by fd; each served by a detached thread
  std::thread acceptor_;
};

}  // namespace lode::keyd
