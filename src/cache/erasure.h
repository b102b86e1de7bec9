// Reed-Solomon erasure coding of chunks for the L2 tier (ISA-L, a Cauchy
// generator matrix, so any k of the k + m stripes rebuild the chunk). Each
// stripe carries a header: format version, k, m, its index, the chunk's
// length, and a SHA-256 over the chunk name, its index and its payload, so a
// damaged or misplaced stripe is recognised and ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::cache {

struct ErasureCode {
  int k = 4;  // data stripes
  int m = 1;  // parity stripes
  int total() const { return k + m; }
};

// The k + m stripes of `chunk`, stripe i at index i.
std::vector<std::vector<uint8_t>> EncodeStripes(std::span<const uint8_t> chunk,
                                                const std::string& name, const ErasureCode& code);

// Rebuilds the chunk from the stripes given (index i holds stripe i or
// nullopt when it did not arrive). Stripes failing their check are ignored;
// fewer than k good ones is NotFound.
Result<std::vector<uint8_t>> DecodeStripes(
    const std::vector<std::optional<std::vector<uint8_t>>>& stripes, const std::string& name,
    const ErasureCode& code);

// True when `stripe` is well-formed stripe `index` of chunk `name` under `code`.
bool StripeIsValid(std::span<const uint8_t> stripe, const std::string& name, int index,
                   const ErasureCode& code);

}  // namespace lode::cache
