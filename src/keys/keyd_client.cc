#include "keys/keyd_client.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "keys/keyd_protocol.h"
#include "util/base64.h"
#include "util/unix_socket.h"

namespace lode::keys {
namespace {

using nlohmann::json;

constexpr size_t kMaxAnswerBytes = 1 << 20;
// keyd answers in well under a millisecond; this long means it is stuck.
constexpr int kAnswerTimeoutMs = 30000;

template <size_t N>
Result<std::array<uint8_t, N>> HexField(const json& answer, const char* field) {
  std::string hex = answer.value(field, "");
  std::array<uint8_t, N> out;
  size_t len = 0;
  if (sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
      len != N) {
    return Status::Corruption(std::string("keyd sent a malformed ") + field);
  }
  return out;
}

class KeydKeys : public KeyService {
 public:
  explicit KeydKeys(std::shared_ptr<KeydClient> client) : client_(std::move(client)) {}

  Result<PublicKey> CreateTenant(const std::string& tenant) override {
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", "create_tenant"}, {"tenant", tenant}}));
    return HexField<32>(a, "key");
  }
  Result<std::vector<std::string>> ListTenants() override {
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", "tenants"}}));
    try {
      return a.at("tenants").get<std::vector<std::string>>();
    } catch (const json::exception&) {
      return Status::Corruption("keyd sent a malformed tenant list");
    }
  }
  Result<PublicKey> TenantPublicKey(const std::string& tenant) override {
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", "public_key"}, {"tenant", tenant}}));
    return HexField<32>(a, "key");
  }
  Result<DataKey> OpenDataKey(const SealedObject& object) override {
    std::string_view sealed(reinterpret_cast<const char*>(object.sealed.data()),
                            object.sealed.size());
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", "open"},
                                                 {"kind", SealedKindName(object.kind)},
                                                 {"tenant", object.tenant},
                                                 {"subject", object.subject}},
                                                sealed));
    std::optional<std::string> key = Base64Decode(a.value("key", ""));
    DataKey out;
    if (!key || key->size() != out.size()) return Status::Corruption("keyd sent a malformed key");
    std::copy(key->begin(), key->end(), out.begin());
    sodium_memzero(key->data(), key->size());
    return out;
  }
  Status ImageMoved(const std::string& tenant, const std::string& from,
                    const std::string& to) override {
    return client_->Call({{"op", "follow"}, {"tenant", tenant}, {"from", from}, {"to", to}})
        .status();
  }
  Result<Salt> GetOrCreateSalt(const SaltId& id) override {
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", "salt"}, {"id", id.ToString()}}));
    return HexField<32>(a, "salt");
  }
  Result<uint32_t> CurrentSaltEpoch(const std::string& root, const std::string& domain) override {
    return Epoch("salt_epoch", root, domain);
  }
  Result<uint32_t> RotateSalt(const std::string& root, const std::string& domain) override {
    return Epoch("rotate_salt", root, domain);
  }

 private:
  Result<uint32_t> Epoch(const char* op, const std::string& root, const std::string& domain) {
    LODE_ASSIGN_OR_RETURN(json a, client_->Call({{"op", op}, {"root", root}, {"domain", domain}}));
    if (!a.contains("epoch") || !a["epoch"].is_number_unsigned()) {
      return Status::Corruption("keyd sent a malformed epoch");
    }
    return a["epoch"].get<uint32_t>();
  }

  std::shared_ptr<KeydClient> client_;
};

}  // namespace

// One connection to keyd, reused call after call.
class KeydClient::Connection {
 public:
  explicit Connection(UniqueFd fd) : fd_(std::move(fd)) {}
  explicit Connection(std::unique_ptr<TlsStream> tls) : tls_(std::move(tls)) {}

  Status Send(std::string_view bytes) {
    return tls_ ? tls_->Write(bytes) : SendAll(fd_.get(), bytes, "keyd");
  }
  Result<std::string> ReceiveLine() {
    if (!tls_) return lode::ReceiveLine(fd_.get(), kMaxAnswerBytes, kAnswerTimeoutMs, "keyd");
    std::string line;
    char buf[4096];
    while (line.find('\n') == std::string::npos) {
      LODE_ASSIGN_OR_RETURN(size_t n, tls_->Read(buf, sizeof(buf), kAnswerTimeoutMs));
      if (n == 0) break;
      line.append(buf, n);
      if (line.size() > kMaxAnswerBytes) return Status::InvalidArgument("keyd: answer too long");
    }
    if (size_t nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    return line;
  }

 private:
  UniqueFd fd_;
  std::unique_ptr<TlsStream> tls_;
};

KeydClient::KeydClient(std::string address) : address_(std::move(address)) {}
KeydClient::~KeydClient() = default;

Result<std::shared_ptr<KeydClient>> KeydClient::Create(const std::string& address) {
  std::shared_ptr<KeydClient> client(new KeydClient(address));
  if (address.rfind("tls://", 0) != 0) {
    LODE_RETURN_IF_ERROR(UnixAddress(address).status());
    return client;
  }
  std::string rest = address.substr(6);
  std::map<std::string, std::string> params;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    rest.resize(q);
    for (size_t at = 0; at <= query.size();) {
      size_t amp = std::min(query.find('&', at), query.size());
      std::string pair = query.substr(at, amp - at);
      if (size_t eq = pair.find('='); eq != std::string::npos) {
        params[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      at = amp + 1;
    }
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || params["ca"].empty() || params["cert"].empty() ||
      params["key"].empty()) {
    return Status::InvalidArgument("keyd address '" + address +
                                   "': tls://HOST:PORT?ca=FILE&cert=FILE&key=FILE");
  }
  client->host_ = rest.substr(0, colon);
  client->port_ = std::atoi(rest.c_str() + colon + 1);
  LODE_ASSIGN_OR_RETURN(client->tls_,
                        TlsContext::Client(params["ca"], params["cert"], params["key"]));
  return client;
}

Result<std::unique_ptr<KeydClient::Connection>> KeydClient::Connect() {
  std::string where = tls_ ? host_ + ":" + std::to_string(port_) : address_;
  auto unreachable = [&](const Status& s) {
    return Status::Unavailable("keyd at " + where + " is unreachable (" + s.message() + ")");
  };
  if (tls_) {
    Result<std::unique_ptr<TlsStream>> stream = TlsStream::Connect(tls_, host_, port_);
    if (!stream.ok()) {
      if (stream.status().code() == StatusCode::kUnavailable) return unreachable(stream.status());
      return Status::Rejected("keyd at " + where + ": " + stream.status().message());
    }
    return std::make_unique<Connection>(std::move(*stream));
  }
  Result<UniqueFd> fd = ConnectUnix(address_);
  if (!fd.ok()) return unreachable(fd.status());
  return std::make_unique<Connection>(std::move(*fd));
}

Result<json> KeydClient::CallOn(Connection& connection, const std::string& bytes) {
  LODE_RETURN_IF_ERROR(connection.Send(bytes));
  LODE_ASSIGN_OR_RETURN(std::string answer, connection.ReceiveLine());
  json reply = json::parse(answer, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    return Status::Unavailable("keyd at " + address_ + " closed the connection or sent no answer");
  }
  return reply;
}

Result<json> KeydClient::Call(const json& request, std::string_view payload) {
  std::string bytes = EncodeRequest(request, payload);
  Result<json> reply = Status::Unavailable("");
  // A reused connection may have been closed by keyd (restarted, idle): one
  // more try on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> connection;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool reused = connection != nullptr;
    if (!reused) {
      LODE_ASSIGN_OR_RETURN(connection, Connect());
    }
    reply = CallOn(*connection, bytes);
    if (reply.ok()) {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(connection));
      break;
    }
    if (!reused) break;
  }
  LODE_RETURN_IF_ERROR(reply.status());
  if (!reply->value("ok", false)) {
    return Status::WithCode(StatusCodeFromWire(reply->value("code", 0)),
                            "keyd: " + reply->value("error", "refused"));
  }
  return reply;
}

std::unique_ptr<KeyService> KeydKeyService(std::shared_ptr<KeydClient> client) {
  return std::make_unique<KeydKeys>(std::move(client));
}

std::string KeydAddress(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("LODE_KEYD");
  return env == nullptr ? "" : env;
}

}  // namespace lode::keys
