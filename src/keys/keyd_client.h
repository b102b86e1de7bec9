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

namespace lode::keys {

class KeydClient {
 public:
  // keyd at `address`: the path of its Unix socket. Nothing is connected
  // until the first call.
  static Result<std::shared_ptr<KeydClient>> Create(const std::string& address);

  // Sends one request (with `payload`: keyd_protocol.h) and returns keyd's
  // answer; keyd's refusal (with its one-line reason) as a Status;
  // Unavailable when keyd cannot be reached.
  Result<nlohmann::json> Call(const nlohmann::json& request, std::string_view payload = {});
  const std::string& address() const { return address_; }

 private:
  explicit KeydClient(std::string address) : address_(std::move(address)) {}
  Result<nlohmann::json> CallOn(int fd, const std::string& bytes);

  std::string address_;
  std::mutex mu_;
  std::vector<UniqueFd> idle_;
};

// The key service of keyd through `client`.
std::unique_ptr<KeyService> KeydKeyService(std::shared_ptr<KeydClient> client);

// keyd's address when one is configured: `flag` if set, else $LODE_KEYD,
// else "".
std::string KeydAddress(const std::string& flag);

}  // namespace lode::keys
