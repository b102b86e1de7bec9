// TLS over a connected socket (OpenSSL), for keyd's TCP listener and its
// clients on other machines: both sides present certificates, and a
// server knows a client by its certificate's subject.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "util/file.h"
#include "util/status.h"

namespace lode {

class TlsContext {
 public:
  // A server presenting `cert`/`key` (PEM) and requiring a client
  // certificate signed by a CA in `client_ca`.
  static Result<std::shared_ptr<TlsContext>> Server(const std::string& cert, const std::string& key,
                                                    const std::string& client_ca);
  // A client trusting servers signed by `server_ca`, presenting
  // `cert`/`key`.
  static Result<std::shared_ptr<TlsContext>> Client(const std::string& server_ca,
                                                    const std::string& cert,
                                                    const std::string& key);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsStream {
 public:
  // The server side of a handshake on `fd`, within `timeout_ms`.
  static Result<std::unique_ptr<TlsStream>> Accept(std::shared_ptr<TlsContext> ctx, UniqueFd fd,
                                                   int timeout_ms);
  // Connects to HOST:PORT and verifies the server's certificate for HOST.
  static Result<std::unique_ptr<TlsStream>> Connect(std::shared_ptr<TlsContext> ctx,
                                                    const std::string& host, int port);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Up to `n` bytes; 0 when the peer closed. Waits at most `timeout_ms`
  // (negative: forever) for the first byte: Unavailable past it.
  Result<size_t> Read(char* buf, size_t n, int timeout_ms);
  Status Write(std::string_view bytes);
  // The peer certificate's subject, RFC 2253 ("CN=worker-1,O=acme").
  const std::string& peer_subject() const { return peer_subject_; }
  int fd() const { return fd_.get(); }

 private:
  TlsStream(std::shared_ptr<TlsContext> ctx, UniqueFd fd, SSL* ssl)
      : ctx_(std::move(ctx)), fd_(std::move(fd)), ssl_(ssl) {}
  std::shared_ptr<TlsContext> ctx_;
  UniqueFd fd_;
  SSL* ssl_;
  std::string peer_subject_;
};

}  // namespace lode
