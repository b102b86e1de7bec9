// Keys are written with AtomicFile (temporary, fsync, rename) at mode 0600.
// Creating a salt races benignly: two creators may both write one, and the
// rename makes one of them win; both then read the winner back.
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "keys/key_service.h"
#include "util/file.h"
#include "util/sha256.h"

namespace lode::keys {
namespace {

namespace fs = std::filesystem;

bool ValidName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return s[0] != '.' && s[0] != '-';
}

template <size_t N>
Result<std::array<uint8_t, N>> ReadHexKey(const std::string& path) {
  LODE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::array<uint8_t, N> out;
  size_t len = 0;
  if (sodium_hex2bin(out.data(), N, text.data(), text.size(), nullptr, &len, nullptr) != 0 ||
      len != N) {
    return Status::Corruption("malformed key file " + path);
  }
  return out;
}

template <size_t N>
Status WriteHexKey(const std::string& path, const std::array<uint8_t, N>& key) {
  std::string hex = ToHex(key) + "\n";
  LODE_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  if (::fchmod(file.fd(), 0600) != 0) return Status::FromErrno(errno, "chmod " + path);
  LODE_RETURN_IF_ERROR(PWriteAll(
      file.fd(), std::span(reinterpret_cast<const uint8_t*>(hex.data()), hex.size()), 0, path));
  return file.Commit();
}

class LocalKeyService : public KeyService {
 public:
  explicit LocalKeyService(std::string dir) : dir_(std::move(dir)) {}

  Result<PublicKey> CreateTenant(const std::string& tenant) override {
    LODE_RETURN_IF_ERROR(ValidateTenant(tenant));
    std::lock_guard lock(mu_);
    if (fs::exists(PublicPath(tenant)))
      return Status::InvalidArgument("tenant " + tenant + " already exists");
    KeyPair kp;
    crypto_box_keypair(kp.public_key.data(), kp.secret_key.data());
    LODE_RETURN_IF_ERROR(WriteHexKey(SecretPath(tenant), kp.secret_key));
    LODE_RETURN_IF_ERROR(WriteHexKey(PublicPath(tenant), kp.public_key));
    sodium_memzero(kp.secret_key.data(), kp.secret_key.size());
    return kp.public_key;
  }

  Result<std::vector<std::string>> ListTenants() override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/tenants", ec)) {
      if (e.path().extension() == ".pub") out.push_back(e.path().stem().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<PublicKey> TenantPublicKey(const std::string& tenant) override {
    LODE_RETURN_IF_ERROR(ValidateTenant(tenant));
    Result<PublicKey> key = ReadHexKey<32>(PublicPath(tenant));
    if (!key.ok() && key.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no tenant '" + tenant + "' in key directory " + dir_);
    }
    return key;
  }

  Result<DataKey> OpenDataKey(const SealedObject& object) override {
    LODE_ASSIGN_OR_RETURN(KeyPair kp, TenantKeyPair(object.tenant));
    Result<DataKey> key = UnsealDataKey(object, kp);
    sodium_memzero(kp.secret_key.data(), kp.secret_key.size());
    return key;
  }

  Status ImageMoved(const std::string&, const std::string&, const std::string&) override {
    return Status::Ok();
  }

  Result<Salt> GetOrCreateSalt(const SaltId& id) override {
    LODE_RETURN_IF_ERROR(ValidateSaltScope(id.root, id.domain));
    std::string path = dir_ + "/salts/" + id.ToString();
    Result<Salt> salt = ReadHexKey<32>(path);
    if (salt.ok() || salt.status().code() != StatusCode::kNotFound) return salt;
    Salt fresh;
    randombytes_buf(fresh.data(), fresh.size());
    LODE_RETURN_IF_ERROR(WriteHexKey(path, fresh));
    return ReadHexKey<32>(path);
  }

  Result<uint32_t> CurrentSaltEpoch(const std::string& root, const std::string& domain) override {
    LODE_RETURN_IF_ERROR(ValidateSaltScope(root, domain));
    Result<std::string> text = ReadFileToString(CurrentPath(root, domain));
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) return 0u;
      return text.status();
    }
    try {
      return static_cast<uint32_t>(std::stoul(*text));
    } catch (...) {
      return Status::Corruption("malformed salt epoch file " + CurrentPath(root, domain));
    }
  }

  Result<uint32_t> RotateSalt(const std::string& root, const std::string& domain) override {
    std::lock_guard lock(mu_);
    LODE_ASSIGN_OR_RETURN(uint32_t epoch, CurrentSaltEpoch(root, domain));
    ++epoch;
    LODE_RETURN_IF_ERROR(GetOrCreateSalt({root, domain, epoch}).status());
    LODE_RETURN_IF_ERROR(
        WriteFileAtomically(CurrentPath(root, domain), std::to_string(epoch) + "\n"));
    return epoch;
  }

 private:
  Result<KeyPair> TenantKeyPair(const std::string& tenant) {
    LODE_ASSIGN_OR_RETURN(PublicKey pub, TenantPublicKey(tenant));
    Result<SecretKey> secret = ReadHexKey<32>(SecretPath(tenant));
    if (!secret.ok()) {
      if (secret.status().code() == StatusCode::kNotFound) {
        return Status::NotFound("key directory " + dir_ + " holds no secret key for tenant '" +
                                tenant + "'");
      }
      return secret.status();
    }
    return KeyPair{pub, *secret};
  }

  static Status ValidateSaltScope(const std::string& root, const std::string& domain) {
    if (!ValidName(root, 64) || !ValidName(domain, 64)) {
      return Status::InvalidArgument("bad salt scope '" + root + "." + domain + "'");
    }
    return Status::Ok();
  }
  std::string CurrentPath(const std::string& root, const std::string& domain) const {
    return dir_ + "/salts/" + root + "." + domain + ".current";
  }
  std::string PublicPath(const std::string& t) const { return dir_ + "/tenants/" + t + ".pub"; }
  std::string SecretPath(const std::string& t) const { return dir_ + "/tenants/" + t + ".key"; }

  std::string dir_;
  std::mutex mu_;
};

}  // namespace

std::string SaltId::ToString() const { return root + "." + domain + "." + std::to_string(epoch); }

Result<SaltId> SaltId::Parse(const std::string& text) {
  size_t first = text.find('.');
  size_t last = text.rfind('.');
  SaltId id;
  if (first != std::string::npos && last > first) {
    id.root = text.substr(0, first);
    id.domain = text.substr(first + 1, last - first - 1);
    std::string epoch = text.substr(last + 1);
    auto [end, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), id.epoch);
    if (ec == std::errc() && end == epoch.data() + epoch.size() && !epoch.empty() &&
        ValidName(id.root, 64) && ValidName(id.domain, 64)) {
      return id;
    }
  }
  return Status::InvalidArgument("bad salt id '" + text + "'");
}

Status ValidateTenant(const std::string& name) {
  if (!ValidName(name, 64)) return Status::InvalidArgument("bad tenant name '" + name + "'");
  return Status::Ok();
}

std::string DefaultKeyDir() {
  if (const char* env = std::getenv("LODE_KEYS"); env && *env) return env;
  return DataDir() + "/keys";
}

Result<std::unique_ptr<KeyService>> OpenLocalKeyService(const std::string& dir) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialise");
  std::error_code ec;
  for (const char* sub : {"", "/tenants", "/salts"}) {
    std::string path = dir + sub;
    if (!fs::exists(path, ec)) {
      fs::create_directories(path, ec);
      if (ec) return Status::IOError("create key directory " + path + ": " + ec.message());
      ::chmod(path.c_str(), 0700);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "key directory " + dir);
  if ((st.st_mode & 077) != 0) {
    return Status::Rejected("key directory " + dir +
                            " is accessible to other users (chmod 700 it)");
  }
  if (::access((dir + "/tenants").c_str(), R_OK | W_OK | X_OK) != 0) {
    return Status::FromErrno(errno, "key directory " + dir);
  }
  return std::unique_ptr<KeyService>(std::make_unique<LocalKeyService>(dir));
}

}  // namespace lode::keys
