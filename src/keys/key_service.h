// The key service: tenant key pairs (X25519, for sealing manifests) and the
// salts of the salt policy. An interface, so a real KMS can replace the
// embedded implementation, a local directory:
//
//   DIR/            0700
//     tenants/T.pub   32-byte public key, hex   0600
//     tenants/T.key   32-byte secret key, hex   0600
//     salts/ID        32-byte salt, hex         0600
//
// Salts are named by (root, domain, epoch): "ROOT.DOMAIN.EPOCH"; the file
// "ROOT.DOMAIN.current" holds the epoch in use (absent: 0). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "keys/envelope.h"
#include "util/status.h"

namespace lode::keys {

using Salt = std::array<uint8_t, 32>;

struct SaltId {
  std::string root;
  std::string domain = "default";
  uint32_t epoch = 0;
  std::string ToString() const;  // "root.domain.epoch"
  // The inverse of ToString (roots have no '.').
  static Result<SaltId> Parse(const std::string& text);
};

class KeyService {
 public:
  virtual ~KeyService() = default;
  // Creates a tenant's key pair; InvalidArgument if it exists.
  virtual Result<PublicKey> CreateTenant(const std::string& tenant) = 0;
  virtual Result<std::vector<std::string>> ListTenants() = 0;
  // What a pusher needs: the public key only.
  virtual Result<PublicKey> TenantPublicKey(const std::string& tenant) = 0;
  // What a reader needs to open one sealed object (a manifest, a profile, a
  // function): its data key, once the object proved to be what it claims
  // (envelope.h). The local service opens anything of a tenant whose secret
  // key it holds (NotFound when it holds none: a pusher's copy of the
  // directory); keyd opens only what the caller was granted.
  virtual Result<DataKey> OpenDataKey(const SealedObject& object) = 0;
  // gc copied the tenant's image `from` (ROOT/MANIFEST-ID) to `to`: whoever
  // may open the one may open the other (keyd copies its grants; the local
  // service has none).
  virtual Status ImageMoved(const std::string& tenant, const std::string& from,
                            const std::string& to) = 0;
  // The salt for `id`, created on first use.
  virtual Result<Salt> GetOrCreateSalt(const SaltId& id) = 0;
  // The epoch that pushes to (root, domain) use: 0 until rotated.
  virtual Result<uint32_t> CurrentSaltEpoch(const std::string& root, const std::string& domain) = 0;
  // Moves (root, domain) to a new epoch with a fresh salt and returns it:
  // later pushes no longer deduplicate against chunks sealed before.
  virtual Result<uint32_t> RotateSalt(const std::string& root, const std::string& domain) = 0;
};

// The embedded key service in `dir` (created 0700 if missing). An unreadable
// directory or one with loose permissions is an error.
Result<std::unique_ptr<KeyService>> OpenLocalKeyService(const std::string& dir);

// The default key directory: $LODE_KEYS, else DataDir()/keys.
std::string DefaultKeyDir();

// InvalidArgument unless `name` is a valid tenant name ([a-z0-9][a-z0-9._-]*, <= 64).
Status ValidateTenant(const std::string& name);

}  // namespace lode::keys
