#include "manifest/manifest.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "chunk/aead.h"
#include "util/sha256.h"

namespace lode::manifest {

ChunkEntry ChunkEntry::Of(const chunk::SealedChunk& sealed) {
  ChunkEntry e;
  e.name = sealed.name;
  e.key = sealed.key;
  e.stored_length = static_cast<uint32_t>(sealed.stored.size());
  e.flags = sealed.compressed ? uint32_t{kCompressed} : 0u;
  return e;
}
namespace {

// FROZEN: see docs/formats/manifest.md.
constexpr char kPlainMagic[8] = {'L', 'O', 'D', 'E', 'M', 'A', 'N', '1'};
constexpr char kSealedMagic[8] = {'L', 'O', 'D', 'E', 'S', 'M', '1', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kEntryBytes = 32 + 32 + 4 + 4;
constexpr size_t kSealedKeyBytes = crypto_box_SEALBYTES + 32;
constexpr size_t kSealedHeaderBytes = 8 + 4 + kSealedKeyBytes + 12;
constexpr uint64_t kMaxChunks = uint64_t{1} << 28;

class Writer {
 public:
  void Bytes(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Str16(const std::string& s) {
    U16(static_cast<uint16_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  void Str32(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  std::vector<uint8_t> out;

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool Bytes(void* p, size_t n) {
    if (in_.size() - pos_ < n) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool U16(uint16_t* v) { return Le(v, 2); }
  bool U32(uint32_t* v) { return Le(v, 4); }
  bool U64(uint64_t* v) { return Le(v, 8); }
  bool Str16(std::string* s) {
    uint16_t n;
    return U16(&n) && Str(s, n);
  }
  bool Str32(std::string* s) {
    uint32_t n;
    return U32(&n) && Str(s, n);
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  template <typename T>
  bool Le(T* v, int n) {
    if (in_.size() - pos_ < static_cast<size_t>(n)) return false;
    uint64_t x = 0;
    for (int i = 0; i < n; ++i) x |= uint64_t{in_[pos_ + static_cast<size_t>(i)]} << (8 * i);
    pos_ += static_cast<size_t>(n);
    *v = static_cast<T>(x);
    return true;
  }
  bool Str(std::string* s, size_t n) {
    if (in_.size() - pos_ < n) return false;
    s->assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<uint8_t> Encode(const Manifest& m) {
  Writer w;
  w.Bytes(kPlainMagic, sizeof kPlainMagic);
  w.U32(kVersion);
  w.U64(m.fs_size);
  w.U32(m.chunk_size);
  w.U64(m.chunks.size());
  w.Bytes(m.config_digest.data(), m.config_digest.size());
  w.Str16(m.salt_id);
  w.Str16(m.root_id);
  w.Str32(m.image_config);
  for (const ChunkEntry& e : m.chunks) {
    w.Bytes(e.name.data(), e.name.size());
    w.Bytes(e.key.data(), e.key.size());
    w.U32(e.stored_length);
    w.U32(e.flags);
  }
  return std::move(w.out);
}

Result<Manifest> Decode(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Manifest m;
  char magic[8];
  uint32_t version;
  uint64_t count;
  auto bad = [](const std::string& why) { return Status::Corruption("manifest: " + why); };
  if (!r.Bytes(magic, 8) || std::memcmp(magic, kPlainMagic, 8) != 0) return bad("bad magic");
  if (!r.U32(&version) || version != kVersion) return bad("unsupported version");
  if (!r.U64(&m.fs_size) || !r.U32(&m.chunk_size) || !r.U64(&count)) return bad("truncated header");
  if (m.chunk_size == 0 || (m.chunk_size & (m.chunk_size - 1)) != 0) return bad("bad chunk size");
  if (count != m.ChunkCount() || count > kMaxChunks)
    return bad("chunk count does not match the size");
  if (!r.Bytes(m.config_digest.data(), 32) || !r.Str16(&m.salt_id) || !r.Str16(&m.root_id) ||
      !r.Str32(&m.image_config)) {
    return bad("truncated header");
  }
  if (bytes.size() < count * kEntryBytes) return bad("truncated chunk table");
  m.chunks.resize(count);
  for (ChunkEntry& e : m.chunks) {
    if (!r.Bytes(e.name.data(), 32) || !r.Bytes(e.key.data(), 32) || !r.U32(&e.stored_length) ||
        !r.U32(&e.flags)) {
      return bad("truncated chunk table");
    }
  }
  if (!r.AtEnd()) return bad("trailing bytes");
  return m;
}

std::vector<uint8_t> SealToTenant(const char (&magic)[8], std::span<const uint8_t> plaintext,
                                  const PublicKey& tenant) {
  if (sodium_init() < 0) std::abort();
  chunk::AeadKey data_key;
  chunk::AeadIv iv;
  randombytes_buf(data_key.data(), data_key.size());
  randombytes_buf(iv.data(), iv.size());
  Writer w;
  w.Bytes(magic, 8);
  w.U32(kVersion);
  size_t key_at = w.out.size();
  w.out.resize(key_at + kSealedKeyBytes);
  crypto_box_seal(w.out.data() + key_at, data_key.data(), data_key.size(), tenant.data());
  w.Bytes(iv.data(), iv.size());
  // The header (magic, version, sealed key, IV) is authenticated as AAD.
  std::vector<uint8_t> body = chunk::AeadSeal(data_key, iv, w.out, plaintext);
  sodium_memzero(data_key.data(), data_key.size());
  w.Bytes(body.data(), body.size());
  return std::move(w.out);
}

Result<std::vector<uint8_t>> OpenFromTenant(const char (&magic)[8], std::span<const uint8_t> sealed,
                                            const PublicKey& pub, const SecretKey& secret,
                                            const std::string& what) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialise");
  if (sealed.size() < kSealedHeaderBytes || std::memcmp(sealed.data(), magic, 8) != 0) {
    return Status::Corruption("not a sealed lode " + what);
  }
  chunk::AeadKey data_key;
  if (crypto_box_seal_open(data_key.data(), sealed.data() + 12, kSealedKeyBytes, pub.data(),
                           secret.data()) != 0) {
    return Status::Corruption(what + " is sealed to another tenant or tampered with");
  }
  chunk::AeadIv iv;
  std::copy_n(sealed.data() + 12 + kSealedKeyBytes, iv.size(), iv.begin());
  Result<std::vector<uint8_t>> body = chunk::AeadOpen(
      data_key, iv, sealed.first(kSealedHeaderBytes), sealed.subspan(kSealedHeaderBytes));
  sodium_memzero(data_key.data(), data_key.size());
  if (!body.ok()) return Status::Corruption(what + " fails authentication (tampered)");
  return body;
}

std::vector<uint8_t> Seal(const Manifest& m, const PublicKey& tenant) {
  return SealToTenant(kSealedMagic, Encode(m), tenant);
}

Result<Manifest> Open(std::span<const uint8_t> sealed, const PublicKey& pub,
                      const SecretKey& secret) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> body,
                        OpenFromTenant(kSealedMagic, sealed, pub, secret, "manifest"));
  return Decode(body);
}

std::string ManifestId(std::span<const uint8_t> sealed) { return ToHex(Sha256::Of(sealed)); }

}  // namespace lode::manifest
