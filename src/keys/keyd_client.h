// A client of keyd (src/keyd), and the key service it offers a command or
// an agent: every key operation is a request to keyd, made as the calling
// process's user (keyd tells callers apart by their Unix credentials).
// Nothing secret is kept but the data keys handed back, which the caller
// uses once and drops. Thread-safe; connections are reused and re-made
// when keyd restarts.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "keys/key_service.h"
#include "util/file.h"
#include "util/tls.h"

namespace lode::keys {

class KeydClient {
 public:
  // keyd at `address`: the path of its Unix socket, or
  // "tls://HOST:PORT?ca=FILE&cert=FILE&key=FILE" (keyd's CA, this caller's
  // certificate and key, PEM) for keyd on another machine. Nothing is
  // connected until the first call.
  static Result<std::shared_ptr<KeydClient>> Create(const std::string& address);
  ~KeydClient();

  // Sends one request (with `payload`: keyd_protocol.h) and returns keyd's
  // answer; keyd's refusal (with its one-line reason) as a Status;
  // Unavailable when keyd cannot be reached.
  Result<nlohmann::json> Call(const nlohmann::json& request, std::string_view payload = {});
  const std::string& address() const { return address_; }

 private:
  class Connection;
  explicit KeydClient(std::string address);
  Result<std::unique_ptr<Connection>> Connect();
  Result<nlohmann::json> CallOn(Connection& connection, const std::string& bytes);

  std::string address_;
  // TLS: where keyd listens and how to talk to it (null: a Unix socket).
  std::shared_ptr<TlsContext> tls_;
  std::string host_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// The key service of keyd through `client`.
std::unique_ptr<KeyService> KeydKeyService(std::shared_ptr<KeydClient> client);

// keyd's address when one is configured: `flag` if set, else $LODE_KEYD,
// else "".
std::string KeydAddress(const std::string& flag);

}  // namespace lode::keys
