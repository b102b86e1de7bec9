#include "util/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <utility>

namespace lode {

namespace {
void Check(int ok) {
  // EVP digest calls fail only on allocation failure or a broken OpenSSL.
  if (ok != 1) std::abort();
}

// Fetched once: OpenSSL 3 looks EVP_sha256() up again (under a lock) on every
// init, which costs more than hashing a short message.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}
}  // namespace

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Sha256Digest out;
  unsigned int len = 0;
  if (HMAC(Sha256Algorithm(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr) {
    std::abort();
  }
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  Check(EVP_DigestInit_ex(ctx_, Sha256Algorithm(), nullptr));
}

Sha256::~Sha256() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::Update(std::span<const uint8_t> bytes) {
  Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()));
}

void Sha256::Update(std::string_view bytes) {
  Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()));
}

Sha256Digest Sha256::Finish() {
  Sha256Digest out;
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, out.data(), &len));
  Check(EVP_DigestInit_ex(ctx_, Sha256Algorithm(), nullptr));
  return out;
}

Sha256Digest Sha256::Of(std::span<const uint8_t> bytes) {
  // One context per thread, reused (Finish starts it again): allocating one
  // per call doubled the cost of hashing a short name.
  thread_local Sha256 h;
  h.Update(bytes);
  return h.Finish();
}

Sha256Digest Sha256::Of(std::string_view bytes) {
  return Of(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace lode
