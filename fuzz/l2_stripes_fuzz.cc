// Stripes as a memcached fleet hands them back (cache/erasure.h): the first
// byte picks the code (k 1..8, m 0..3), then each stripe is a 2-byte
// little-endian length and its bytes; stripes past the input are missing.
// Every stripe is checked as the L2 client checks it on arrival, then the
// chunk is rebuilt from whatever arrived.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/erasure.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode::cache;
  if (size == 0) return 0;
  ErasureCode code{1 + data[0] % 8, data[0] / 8 % 4};
  std::span<const uint8_t> rest(data + 1, size - 1);
  const std::string name = "fuzz-chunk";
  std::vector<std::optional<std::vector<uint8_t>>> stripes(code.total());
  for (int i = 0; i < code.total() && rest.size() >= 2; ++i) {
    size_t n = std::min<size_t>(rest[0] | rest[1] << 8, rest.size() - 2);
    std::vector<uint8_t> stripe(rest.begin() + 2, rest.begin() + 2 + n);
    rest = rest.subspan(2 + n);
    if (StripeIsValid(stripe, name, i, code)) stripes[i] = std::move(stripe);
  }
  (void)DecodeStripes(stripes, name, code);
  return 0;
}
