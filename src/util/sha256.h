// SHA-256 through OpenSSL's EVP interface (uses SHA-NI where the CPU has it).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace lode {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hasher. Not thread-safe; movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const uint8_t> bytes);
  void Update(std::string_view bytes);
  // Returns the digest and resets the hasher for reuse.
  Sha256Digest Finish();

  static Sha256Digest Of(std::span<const uint8_t> bytes);
  static Sha256Digest Of(std::string_view bytes);

 private:
  evp_md_ctx_st* ctx_;
};

// HMAC-SHA256 of `data` under `key`.
Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);

// Lower-case hex of arbitrary bytes.
std::string ToHex(std::span<const uint8_t> bytes);

}  // namespace lode
