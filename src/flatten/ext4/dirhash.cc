#include "flatten/ext4/dirhash.h"

#include <bit>

namespace lode::flatten::ext4 {
namespace {

constexpr uint32_t kK2 = 013240474631u;
constexpr uint32_t kK3 = 015666365641u;

inline uint32_t F(uint32_t x, uint32_t y, uint32_t z) { return z ^ (x & (y ^ z)); }
inline uint32_t G(uint32_t x, uint32_t y, uint32_t z) { return (x & y) + ((x ^ y) & z); }
inline uint32_t H(uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; }

template <typename Fn>
inline void Round(Fn f, uint32_t& a, uint32_t b, uint32_t c, uint32_t d, uint32_t x, int s) {
  a += f(b, c, d) + x;
  a = std::rotl(a, s);
}

// The MD4 compression function cut to three rounds of eight steps.
void HalfMd4Transform(std::array<uint32_t, 4>& buf, const uint32_t in[8]) {
  uint32_t a = buf[0], b = buf[1], c = buf[2], d = buf[3];
  Round(F, a, b, c, d, in[0], 3);
  Round(F, d, a, b, c, in[1], 7);
  Round(F, c, d, a, b, in[2], 11);
  Round(F, b, c, d, a, in[3], 19);
  Round(F, a, b, c, d, in[4], 3);
  Round(F, d, a, b, c, in[5], 7);
  Round(F, c, d, a, b, in[6], 11);
  Round(F, b, c, d, a, in[7], 19);

  Round(G, a, b, c, d, in[1] + kK2, 3);
  Round(G, d, a, b, c, in[3] + kK2, 5);
  Round(G, c, d, a, b, in[5] + kK2, 9);
  Round(G, b, c, d, a, in[7] + kK2, 13);
  Round(G, a, b, c, d, in[0] + kK2, 3);
  Round(G, d, a, b, c, in[2] + kK2, 5);
  Round(G, c, d, a, b, in[4] + kK2, 9);
  Round(G, b, c, d, a, in[6] + kK2, 13);

  Round(H, a, b, c, d, in[3] + kK3, 3);
  Round(H, d, a, b, c, in[7] + kK3, 9);
  Round(H, c, d, a, b, in[2] + kK3, 11);
  Round(H, b, c, d, a, in[6] + kK3, 15);
  Round(H, a, b, c, d, in[1] + kK3, 3);
  Round(H, d, a, b, c, in[5] + kK3, 9);
  Round(H, c, d, a, b, in[0] + kK3, 11);
  Round(H, b, c, d, a, in[4] + kK3, 15);

  buf[0] += a;
  buf[1] += b;
  buf[2] += c;
  buf[3] += d;
}

// Packs up to num*4 bytes of the name into words, padding with the length.
void NameToWords(std::string_view msg, uint32_t* out, int num) {
  uint32_t pad = static_cast<uint32_t>(msg.size()) | (static_cast<uint32_t>(msg.size()) << 8);
  pad |= pad << 16;
  uint32_t val = pad;
  size_t len = std::min<size_t>(msg.size(), static_cast<size_t>(num) * 4);
  for (size_t i = 0; i < len; ++i) {
    val = static_cast<uint8_t>(msg[i]) + (val << 8);
    if (i % 4 == 3) {
      *out++ = val;
      val = pad;
      --num;
    }
  }
  if (--num >= 0) *out++ = val;
  while (--num >= 0) *out++ = pad;
}

}  // namespace

DirHash HalfMd4Hash(std::string_view name, const std::array<uint32_t, 4>& seed) {
  std::array<uint32_t, 4> buf = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  if (seed[0] | seed[1] | seed[2] | seed[3]) buf = seed;
  uint32_t in[8];
  std::string_view rest = name;
  do {
    NameToWords(rest, in, 8);
    HalfMd4Transform(buf, in);
    rest.remove_prefix(std::min<size_t>(rest.size(), 32));
  } while (!rest.empty());
  uint32_t major = buf[1] & ~1u;
  if (major == (0x7fffffffu << 1)) major = (0x7fffffffu - 1) << 1;
  return {major, buf[2]};
}

}  // namespace lode::flatten::ext4
