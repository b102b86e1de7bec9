#include "keys/keyd_client.h"

#include <sodium.h>

#include <cstdlib>

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

Result<std::shared_ptr<KeydClient>> KeydClient::Create(const std::string& address) {
  LODE_RETURN_IF_ERROR(UnixAddress(address).status());
  return std::shared_ptr<KeydClient>(new KeydClient(address));
}

Result<json> KeydClient::CallOn(int fd, const std::string& bytes) {
  LODE_RETURN_IF_ERROR(SendAll(fd, bytes, "keyd"));
  LODE_ASSIGN_OR_RETURN(std::string answer,
                        ReceiveLine(fd, kMaxAnswerBytes, kAnswerTimeoutMs, "keyd"));
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
    UniqueFd fd;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        fd = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool reused = fd.valid();
    if (!reused) {
      Result<UniqueFd> made = ConnectUnix(address_);
      if (!made.ok()) {
        return Status::Unavailable("keyd at " + address_ + " is unreachable (" +
                                   made.status().message() + ")");
      }
      fd = std::move(*made);
    }
    reply = CallOn(fd.get(), bytes);
    if (reply.ok()) {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(fd));
      break;
    }
    if (!reused) break;
  }
  LODE_RETURN_IF_ERROR(reply.status());
  if (!reply->value("ok", false)) {
    int code = reply->value("code", static_cast<int>(StatusCode::kRejected));
    if (code <= 0 || code > static_cast<int>(StatusCode::kRejected)) {
      code = static_cast<int>(StatusCode::kRejected);
    }
    return Status::WithCode(static_cast<StatusCode>(code),
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
