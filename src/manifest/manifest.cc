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
constexpr uint32_t kVersion = 1;
constexpr size_t kEntryBytes = 32 + 32 + 4 + 4;
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

std::vector<uint8_t> SealToTenant(keys::SealedKind kind, const std::string& subject,
                                  std::span<const uint8_t> plaintext,
                                  const keys::PublicKey& tenant) {
  if (sodium_init() < 0) std::abort();
  keys::DataKey data_key;
  keys::EnvelopeIv iv;
  randombytes_buf(data_key.data(), data_key.size());
  randombytes_buf(iv.data(), iv.size());
  std::vector<uint8_t> out = keys::SealEnvelopeHeader(kind, subject, data_key, iv, tenant);
  std::vector<uint8_t> body = chunk::AeadSeal(data_key, iv, out, plaintext);
  sodium_memzero(data_key.data(), data_key.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::vector<uint8_t>> OpenSealedBody(keys::SealedKind kind, std::span<const uint8_t> sealed,
                                            const keys::DataKey& data_key,
                                            const std::string& what) {
  LODE_ASSIGN_OR_RETURN(keys::Envelope e, keys::ParseEnvelope(kind, sealed, what));
  Result<std::vector<uint8_t>> body = chunk::AeadOpen(data_key, e.iv, e.header, e.body);
  if (!body.ok()) return Status::Corruption(what + " fails authentication (tampered)");
  return body;
}

std::vector<uint8_t> Seal(const Manifest& m, const keys::PublicKey& tenant) {
  // A manifest's subject is checked by hashing: the box carries no name.
  return SealToTenant(keys::SealedKind::kManifest, "", Encode(m), tenant);
}

Result<Manifest> Open(std::span<const uint8_t> sealed, const keys::DataKey& data_key) {
  LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> body,
                        OpenSealedBody(keys::SealedKind::kManifest, sealed, data_key, "manifest"));
  return Decode(body);
}

std::string ManifestId(std::span<const uint8_t> sealed) { return ToHex(Sha256::Of(sealed)); }

}  // namespace lode::manifest
