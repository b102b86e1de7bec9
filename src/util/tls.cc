#include "util/tls.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

namespace lode {
namespace {

std::string OpenSslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char text[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return what + ": " + text;
}

std::string Subject(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// Blocking reads and writes on `fd` give up after `timeout_ms` (0: never).
void SetSocketTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

Status LoadIdentity(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return Status::InvalidArgument(OpenSslError("TLS certificate " + cert));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument(OpenSslError("TLS key " + key));
  }
  return Status::Ok();
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::Server(const std::string& cert,
                                                       const std::string& key,
                                                       const std::string& client_ca) {
  std::shared_ptr<TlsContext> c(new TlsContext(SSL_CTX_new(TLS_server_method())));
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  LODE_RETURN_IF_ERROR(LoadIdentity(c->ctx_, cert, key));
  if (SSL_CTX_load_verify_locations(c->ctx_, client_ca.c_str(), nullptr) != 1) {
    return Status::InvalidArgument(OpenSslError("TLS client CA " + client_ca));
  }
  SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return c;
}

Result<std::shared_ptr<TlsContext>> TlsContext::Client(const std::string& server_ca,
                                                       const std::string& cert,
                                                       const std::string& key) {
  std::shared_ptr<TlsContext> c(new TlsContext(SSL_CTX_new(TLS_client_method())));
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  LODE_RETURN_IF_ERROR(LoadIdentity(c->ctx_, cert, key));
  if (SSL_CTX_load_verify_locations(c->ctx_, server_ca.c_str(), nullptr) != 1) {
    return Status::InvalidArgument(OpenSslError("TLS CA " + server_ca));
  }
  SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  return c;
}

TlsStream::~TlsStream() {
  SSL_shutdown(ssl_);
  SSL_free(ssl_);
}

Result<std::unique_ptr<TlsStream>> TlsStream::Accept(std::shared_ptr<TlsContext> ctx, UniqueFd fd,
                                                     int timeout_ms) {
  SSL* ssl = SSL_new(ctx->get());
  SSL_set_fd(ssl, fd.get());
  std::unique_ptr<TlsStream> s(new TlsStream(std::move(ctx), std::move(fd), ssl));
  // A client that stalls its handshake cannot hold a thread for long.
  SetSocketTimeouts(s->fd(), timeout_ms);
  if (SSL_accept(ssl) != 1) return Status::Rejected(OpenSslError("TLS handshake"));
  SetSocketTimeouts(s->fd(), 0);
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer == nullptr) return Status::Rejected("TLS client presented no certificate");
  s->peer_subject_ = Subject(peer);
  X509_free(peer);
  return s;
}

Result<std::unique_ptr<TlsStream>> TlsStream::Connect(std::shared_ptr<TlsContext> ctx,
                                                      const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return Status::Unavailable("cannot resolve " + host);
  }
  UniqueFd fd;
  for (addrinfo* a = found; a != nullptr && !fd.valid(); a = a->ai_next) {
    UniqueFd s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (s.valid() && ::connect(s.get(), a->ai_addr, a->ai_addrlen) == 0) fd = std::move(s);
  }
  ::freeaddrinfo(found);
  if (!fd.valid()) {
    return Status::Unavailable("nothing listens on " + host + ":" + std::to_string(port));
  }
  SSL* ssl = SSL_new(ctx->get());
  SSL_set_fd(ssl, fd.get());
  SSL_set1_host(ssl, host.c_str());
  SSL_set_tlsext_host_name(ssl, host.c_str());
  std::unique_ptr<TlsStream> s(new TlsStream(std::move(ctx), std::move(fd), ssl));
  if (SSL_connect(ssl) != 1) return Status::Rejected(OpenSslError("TLS handshake with " + host));
  return s;
}

Result<size_t> TlsStream::Read(char* buf, size_t n, int timeout_ms) {
  if (SSL_pending(ssl_) == 0 && timeout_ms >= 0) {
    pollfd p{fd(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) == 0) return Status::Unavailable("TLS peer sent nothing in time");
  }
  size_t got = 0;
  int r = SSL_read_ex(ssl_, buf, n, &got);
  if (r == 1) return got;
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return size_t{0};  // closed
  unsigned long e = ERR_peek_error();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
    // TLS 1.3 checks a client's certificate after the client's handshake
    // ends: the server's refusal arrives as an alert on the first read.
    return Status::Rejected(OpenSslError("TLS handshake refused by the peer"));
  }
  return Status::IOError(OpenSslError("TLS read"));
}

Status TlsStream::Write(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    size_t wrote = 0;
    if (SSL_write_ex(ssl_, bytes.data() + done, bytes.size() - done, &wrote) != 1) {
      Status failed = Status::IOError(OpenSslError("TLS write"));
      // TLS 1.3 checks a client's certificate after the client's handshake
      // ends: a peer that refused it sent its alert and closed, which a
      // write can find before any read. The alert says why.
      char byte;
      Result<size_t> alert = Read(&byte, 1, 0);
      if (!alert.ok() && alert.status().code() == StatusCode::kRejected) return alert.status();
      return failed;
    }
    done += wrote;
  }
  return Status::Ok();
}

}  // namespace lode
