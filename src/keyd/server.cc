#include "keyd/server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "util/listen.h"
#include "util/unix_socket.h"

namespace lode::keyd {
namespace {

// A client idle this long is disconnected (it reconnects when it needs to).
constexpr int kIdleTimeoutMs = 10 * 60 * 1000;
constexpr int kHandshakeTimeoutMs = 10000;

}  // namespace

Result<std::unique_ptr<SocketServer>> SocketServer::Start(const std::string& path,
                                                          Service& service) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ConnectUnix(path).ok()) return Status::Rejected("a keyd already listens on " + path);
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, ListenUnix(path, 0666));
  return std::unique_ptr<SocketServer>(new SocketServer(path, std::move(fd), nullptr, service));
}

Result<std::unique_ptr<SocketServer>> SocketServer::StartTls(const std::string& address,
                                                             std::shared_ptr<TlsContext> tls,
                                                             Service& service) {
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, ListenTcp(address, "keyd TLS"));
  int port = LocalPort(fd.get());
  std::unique_ptr<SocketServer> server(
      new SocketServer("", std::move(fd), std::move(tls), service));
  server->port_ = port;
  return server;
}

SocketServer::SocketServer(std::string path, UniqueFd fd, std::shared_ptr<TlsContext> tls,
                           Service& service)
    : path_(std::move(path)), listen_fd_(std::move(fd)), tls_(std::move(tls)), service_(service) {
  acceptor_ = std::thread([this] { Accept(); });
}

SocketServer::~SocketServer() {
  stopping_ = true;
  ::shutdown(listen_fd_.get(), SHUT_RDWR);
  acceptor_.join();
  std::unique_lock lock(mu_);
  for (auto& [fd, conn] : connections_) ::shutdown(fd, SHUT_RDWR);
  ended_.wait(lock, [&] { return connections_.empty(); });
  if (!path_.empty()) ::unlink(path_.c_str());
}

void SocketServer::Accept() {
  while (!stopping_) {
    pollfd p{listen_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    std::lock_guard lock(mu_);
    int fd = conn.get();
    connections_.emplace(fd, std::move(conn));
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void SocketServer::Serve(int fd) {
  if (tls_) {
    // The stream owns a duplicate; connections_ keeps the socket to shut
    // down on stop.
    Result<std::unique_ptr<TlsStream>> tls =
        TlsStream::Accept(tls_, UniqueFd(::dup(fd)), kHandshakeTimeoutMs);
    if (tls.ok()) {
      TlsStream& stream = **tls;
      Peer peer;
      peer.certificate = stream.peer_subject();
      Converse(
          peer,
          [&](char* buf, size_t n) -> Result<size_t> {
            Result<size_t> got = stream.Read(buf, n, kIdleTimeoutMs);
            if (!got.ok() && got.status().code() == StatusCode::kUnavailable) return size_t{0};
            return got;
          },
          [&](std::string_view bytes) { return stream.Write(bytes); });
    }
  } else {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      Converse(
          Peer{cred.uid, cred.gid, cred.pid, ""},
          [fd](char* buf, size_t n) -> Result<size_t> {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, kIdleTimeoutMs) == 0) return size_t{0};  // idle: hang up
            ssize_t got = ::recv(fd, buf, n, 0);
            if (got < 0) return Status::FromErrno(errno, "read from keyd client");
            return static_cast<size_t>(got);
          },
          [fd](std::string_view bytes) { return SendAll(fd, bytes, "keyd client"); });
    }
  }
  std::lock_guard lock(mu_);
  connections_.erase(fd);  // closes it
  ended_.notify_all();
}

void SocketServer::Converse(const Peer& peer, const keys::RequestReader::ReadFn& read,
                            const std::function<Status(std::string_view)>& write) {
  keys::RequestReader reader(read);
  while (!stopping_) {
    Result<std::optional<keys::Request>> request = reader.Next();
    if (!request.ok()) {
      (void)write(keys::ErrorAnswer(request.status()).dump() + "\n");
      return;
    }
    if (!*request || !write(service_.Answer(peer, **request) + "\n").ok()) return;
  }
}

}  // namespace lode::keyd
