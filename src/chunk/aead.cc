#include "chunk/aead.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace lode::chunk {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

void Check(int ok) {
  if (ok != 1) std::abort();  // only on allocation failure or a broken OpenSSL
}

}  // namespace

std::vector<uint8_t> AeadSeal(const AeadKey& key, const AeadIv& iv, std::span<const uint8_t> aad,
                              std::span<const uint8_t> plaintext) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(plaintext.size() + kAeadTagBytes);
  int n = 0, tail = 0;
  Check(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data()));
  if (!aad.empty())
    Check(EVP_EncryptUpdate(ctx.get(), nullptr, &n, aad.data(), static_cast<int>(aad.size())));
  Check(EVP_EncryptUpdate(ctx.get(), out.data(), &n, plaintext.data(),
                          static_cast<int>(plaintext.size())));
  Check(EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &tail));
  Check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagBytes,
                            out.data() + plaintext.size()));
  return out;
}

Result<std::vector<uint8_t>> AeadOpen(const AeadKey& key, const AeadIv& iv,
                                      std::span<const uint8_t> aad,
                                      std::span<const uint8_t> sealed) {
  if (sealed.size() < kAeadTagBytes) return Status::Corruption("ciphertext shorter than its tag");
  size_t len = sealed.size() - kAeadTagBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::vector<uint8_t> out(len);
  int n = 0, tail = 0;
  Check(EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), iv.data()));
  if (!aad.empty())
    Check(EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad.data(), static_cast<int>(aad.size())));
  Check(EVP_DecryptUpdate(ctx.get(), out.data(), &n, sealed.data(), static_cast<int>(len)));
  std::array<uint8_t, kAeadTagBytes> tag;
  std::copy_n(sealed.data() + len, kAeadTagBytes, tag.begin());
  Check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag.data()));
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &tail) != 1) {
    return Status::Corruption("authentication failed (wrong key or tampered bytes)");
  }
  return out;
}

}  // namespace lode::chunk
