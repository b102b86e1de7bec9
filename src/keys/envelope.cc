#include "keys/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "util/sha256.h"

namespace lode::keys {
namespace {

// FROZEN: see docs/formats/manifest.md.
struct KindFormat {
  SealedKind kind;
  const char* name;
  char magic[8];
  uint32_t version;  // 1: the box holds the data key; 2: data key and subject
};
constexpr KindFormat kFormats[] = {
    {SealedKind::kManifest, "manifest", {'L', 'O', 'D', 'E', 'S', 'M', '1', '\0'}, 1},
    {SealedKind::kProfile, "profile", {'L', 'O', 'D', 'E', 'S', 'P', '1', '\0'}, 2},
    {SealedKind::kFunction, "function", {'L', 'O', 'D', 'E', 'S', 'F', '1', '\0'}, 2},
};
constexpr size_t kMaxSubjectBytes = 255;

const KindFormat& FormatOf(SealedKind kind) {
  return *std::find_if(std::begin(kFormats), std::end(kFormats),
                       [&](const KindFormat& f) { return f.kind == kind; });
}

uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24; }

}  // namespace

const char* SealedKindName(SealedKind kind) { return FormatOf(kind).name; }

Result<SealedKind> ParseSealedKind(const std::string& name) {
  for (const KindFormat& f : kFormats) {
    if (name == f.name) return f.kind;
  }
  return Status::InvalidArgument("unknown kind of sealed object '" + name + "'");
}

Result<Envelope> ParseEnvelope(SealedKind kind, std::span<const uint8_t> sealed,
                               const std::string& what) {
  const KindFormat& format = FormatOf(kind);
  auto bad = [&] { return Status::Corruption("not a sealed lode " + what); };
  if (sealed.size() < 12 || std::memcmp(sealed.data(), format.magic, 8) != 0) return bad();
  Envelope e;
  e.version = Le32(sealed.data() + 8);
  if (e.version != format.version) {
    return Status::Corruption(what + " has format version " + std::to_string(e.version) +
                              ", this lode reads version " + std::to_string(format.version));
  }
  size_t at = 12;
  size_t box_bytes = crypto_box_SEALBYTES + sizeof(DataKey);
  if (e.version == 2) {
    if (sealed.size() < at + 2) return bad();
    box_bytes = sealed[at] | sealed[at + 1] << 8;
    at += 2;
    if (box_bytes < crypto_box_SEALBYTES + sizeof(DataKey)) return bad();
  }
  if (sealed.size() < at + box_bytes + e.iv.size()) return bad();
  e.box = sealed.subspan(at, box_bytes);
  at += box_bytes;
  std::copy_n(sealed.data() + at, e.iv.size(), e.iv.begin());
  at += e.iv.size();
  e.header = sealed.first(at);
  e.body = sealed.subspan(at);
  return e;
}

std::vector<uint8_t> SealEnvelopeHeader(SealedKind kind, const std::string& subject,
                                        const DataKey& data_key, const EnvelopeIv& iv,
                                        const PublicKey& tenant) {
  if (sodium_init() < 0) std::abort();
  const KindFormat& format = FormatOf(kind);
  std::vector<uint8_t> boxed(data_key.begin(), data_key.end());
  if (format.version == 2) boxed.insert(boxed.end(), subject.begin(), subject.end());
  std::vector<uint8_t> out(format.magic, format.magic + 8);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(format.version >> (8 * i)));
  size_t box_bytes = crypto_box_SEALBYTES + boxed.size();
  if (format.version == 2) {
    out.push_back(static_cast<uint8_t>(box_bytes));
    out.push_back(static_cast<uint8_t>(box_bytes >> 8));
  }
  size_t box_at = out.size();
  out.resize(box_at + box_bytes);
  crypto_box_seal(out.data() + box_at, boxed.data(), boxed.size(), tenant.data());
  sodium_memzero(boxed.data(), boxed.size());
  out.insert(out.end(), iv.begin(), iv.end());
  return out;
}

Result<DataKey> UnsealDataKey(const SealedObject& object, const KeyPair& tenant_keys) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialise");
  std::string what = std::string(SealedKindName(object.kind)) + " " + object.subject;
  if (object.subject.empty() || object.subject.size() > kMaxSubjectBytes) {
    return Status::InvalidArgument("bad subject for a sealed " +
                                   std::string(SealedKindName(object.kind)));
  }
  LODE_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(object.kind, object.sealed, what));
  if (object.kind == SealedKind::kManifest) {
    std::string id = object.subject.substr(object.subject.rfind('/') + 1);
    if (ToHex(Sha256::Of(object.sealed)) != id) {
      return Status::Corruption(what + ": the sealed bytes are another manifest");
    }
  }
  std::vector<uint8_t> boxed(e.box.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(boxed.data(), e.box.data(), e.box.size(), tenant_keys.public_key.data(),
                           tenant_keys.secret_key.data()) != 0) {
    return Status::Corruption(what + " is sealed to another tenant or tampered with");
  }
  DataKey key;
  std::copy_n(boxed.begin(), key.size(), key.begin());
  bool bound =
      e.version == 1 || std::string(boxed.begin() + key.size(), boxed.end()) == object.subject;
  sodium_memzero(boxed.data(), boxed.size());
  if (!bound) {
    sodium_memzero(key.data(), key.size());
    return Status::Corruption(what + ": the sealed bytes are another " +
                              SealedKindName(object.kind));
  }
  return key;
}

}  // namespace lode::keys
