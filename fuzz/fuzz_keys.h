// The fixed keys the sealed-object fuzz target opens with, and its seeds
// are sealed with.
#pragma once

#include <sodium.h>

#include "chunk/convergent.h"
#include "keys/envelope.h"

namespace lode::fuzz {

struct Keys {
  keys::KeyPair tenant;
  chunk::ChunkKey chunk_key;
};

// The image the profile seed belongs to.
constexpr char kProfileSubject[] = "root-0/fuzz";

inline Keys FixedKeys() {
  Keys k;
  unsigned char seed[crypto_box_SEEDBYTES];
  for (size_t i = 0; i < sizeof(seed); ++i) seed[i] = static_cast<unsigned char>(i);
  if (sodium_init() < 0) __builtin_trap();
  crypto_box_seed_keypair(k.tenant.public_key.data(), k.tenant.secret_key.data(), seed);
  k.chunk_key.fill(7);
  return k;
}

}  // namespace lode::fuzz
