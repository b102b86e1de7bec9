#include "cache/erasure.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <cstring>

#include "util/sha256.h"

namespace lode::cache {
namespace {

constexpr uint8_t kVersion = 1;
// version, k, m, index, chunk length (u32 LE), SHA-256.
constexpr size_t kHeader = 4 + 4 + 32;

Sha256Digest StripeDigest(const std::string& name, int index, std::span<const uint8_t> payload) {
  Sha256 h;
  h.Update(name);
  uint8_t i = static_cast<uint8_t>(index);
  h.Update(std::span<const uint8_t>(&i, 1));
  h.Update(payload);
  return h.Finish();
}

size_t StripeLength(size_t chunk_length, int k) {
  return (chunk_length + static_cast<size_t>(k) - 1) / static_cast<size_t>(k);
}

// The (k + m) x k Cauchy generator: identity on top, so data stripes are
// the chunk's bytes, and every k x k submatrix is invertible.
std::vector<uint8_t> Generator(const ErasureCode& code) {
  std::vector<uint8_t> a(static_cast<size_t>(code.total() * code.k));
  gf_gen_cauchy1_matrix(a.data(), code.total(), code.k);
  return a;
}

uint32_t ChunkLengthOf(std::span<const uint8_t> stripe) {
  uint32_t len;
  std::memcpy(&len, stripe.data() + 4, 4);
  return le32toh(len);
}

}  // namespace

std::vector<std::vector<uint8_t>> EncodeStripes(std::span<const uint8_t> chunk,
                                                const std::string& name, const ErasureCode& code) {
  size_t len = StripeLength(chunk.size(), code.k);
  std::vector<std::vector<uint8_t>> stripes(static_cast<size_t>(code.total()),
                                            std::vector<uint8_t>(kHeader + len, 0));
  std::vector<uint8_t*> data, parity;
  for (int i = 0; i < code.total(); ++i) {
    uint8_t* payload = stripes[static_cast<size_t>(i)].data() + kHeader;
    if (i < code.k) {
      size_t start = static_cast<size_t>(i) * len;
      if (start < chunk.size())
        std::memcpy(payload, chunk.data() + start, std::min(len, chunk.size() - start));
      data.push_back(payload);
    } else {
      parity.push_back(payload);
    }
  }
  std::vector<uint8_t> a = Generator(code);
  std::vector<uint8_t> tables(static_cast<size_t>(32 * code.k * code.m));
  ec_init_tables(code.k, code.m, a.data() + code.k * code.k, tables.data());
  ec_encode_data(static_cast<int>(len), code.k, code.m, tables.data(), data.data(), parity.data());
  for (int i = 0; i < code.total(); ++i) {
    std::vector<uint8_t>& s = stripes[static_cast<size_t>(i)];
    s[0] = kVersion;
    s[1] = static_cast<uint8_t>(code.k);
    s[2] = static_cast<uint8_t>(code.m);
    s[3] = static_cast<uint8_t>(i);
    uint32_t le = htole32(static_cast<uint32_t>(chunk.size()));
    std::memcpy(s.data() + 4, &le, 4);
    Sha256Digest d = StripeDigest(name, i, std::span(s).subspan(kHeader));
    std::memcpy(s.data() + 8, d.data(), d.size());
  }
  return stripes;
}

bool StripeIsValid(std::span<const uint8_t> stripe, const std::string& name, int index,
                   const ErasureCode& code) {
  if (stripe.size() < kHeader || stripe[0] != kVersion || stripe[1] != code.k ||
      stripe[2] != code.m || stripe[3] != index) {
    return false;
  }
  if (stripe.size() - kHeader != StripeLength(ChunkLengthOf(stripe), code.k)) return false;
  Sha256Digest d = StripeDigest(name, index, stripe.subspan(kHeader));
  return std::memcmp(d.data(), stripe.data() + 8, d.size()) == 0;
}

Result<std::vector<uint8_t>> DecodeStripes(
    const std::vector<std::optional<std::vector<uint8_t>>>& stripes, const std::string& name,
    const ErasureCode& code) {
  std::vector<int> good;
  for (int i = 0; i < code.total() && static_cast<int>(good.size()) < code.k; ++i) {
    const auto& s = stripes[static_cast<size_t>(i)];
    if (s && StripeIsValid(*s, name, i, code)) {
      if (!good.empty() &&
          ChunkLengthOf(*s) != ChunkLengthOf(*stripes[static_cast<size_t>(good[0])])) {
        continue;
      }
      good.push_back(i);
    }
  }
  if (static_cast<int>(good.size()) < code.k) {
    return Status::NotFound("only " + std::to_string(good.size()) + " of the " +
                            std::to_string(code.k) + " stripes needed for chunk " + name);
  }
  uint32_t chunk_length = ChunkLengthOf(*stripes[static_cast<size_t>(good[0])]);
  size_t len = StripeLength(chunk_length, code.k);
  // Rows of the generator for the stripes we have; inverted, they map those
  // stripes back to the data stripes.
  std::vector<uint8_t> a = Generator(code);
  std::vector<uint8_t> b(static_cast<size_t>(code.k * code.k)), inverse(b.size());
  std::vector<uint8_t*> sources;
  for (int r = 0; r < code.k; ++r) {
    std::memcpy(&b[static_cast<size_t>(r * code.k)],
                &a[static_cast<size_t>(good[static_cast<size_t>(r)] * code.k)],
                static_cast<size_t>(code.k));
    sources.push_back(
        const_cast<uint8_t*>(stripes[static_cast<size_t>(good[static_cast<size_t>(r)])]->data()) +
        kHeader);
  }
  if (gf_invert_matrix(b.data(), inverse.data(), code.k) != 0) {
    return Status::Corruption("stripes of chunk " + name + " cannot be decoded");
  }
  std::vector<uint8_t> out(static_cast<size_t>(code.k) * len);
  std::vector<uint8_t> rows;
  std::vector<uint8_t*> targets;
  for (int i = 0; i < code.k; ++i) {
    uint8_t* dest = out.data() + static_cast<size_t>(i) * len;
    const auto& s = stripes[static_cast<size_t>(i)];
    if (std::find(good.begin(), good.end(), i) != good.end()) {
      std::memcpy(dest, s->data() + kHeader, len);
      continue;
    }
    rows.insert(rows.end(), &inverse[static_cast<size_t>(i * code.k)],
                &inverse[static_cast<size_t>((i + 1) * code.k)]);
    targets.push_back(dest);
  }
  if (!targets.empty()) {
    int missing = static_cast<int>(targets.size());
    std::vector<uint8_t> tables(static_cast<size_t>(32 * code.k * missing));
    ec_init_tables(code.k, missing, rows.data(), tables.data());
    ec_encode_data(static_cast<int>(len), code.k, missing, tables.data(), sources.data(),
                   targets.data());
  }
  out.resize(chunk_length);
  return out;
}

}  // namespace lode::cache
