// What the store hands a worker: sealed manifests (and their plaintext
// encoding), sealed startup profiles, and chunks, opened with fixed keys.
// The seeds are sealed with these keys (fuzz/make_seeds.cc).
#include <sodium.h>

#include <cstdint>
#include <span>

#include "catalog/profile.h"
#include "chunk/convergent.h"
#include "fuzz_keys.h"
#include "manifest/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lode;
  static const fuzz::Keys keys = fuzz::FixedKeys();
  std::span<const uint8_t> in(data, size);
  (void)manifest::Decode(in);
  (void)manifest::Open(in, keys.tenant_public, keys.tenant_secret);
  (void)catalog::DecodeProfile(in, 1 << 20);
  (void)manifest::OpenFromTenant(catalog::kSealedProfileMagic, in, keys.tenant_public,
                                 keys.tenant_secret, "fuzz");
  for (bool compressed : {false, true}) {
    (void)chunk::OpenVerified(in, keys.chunk_key, compressed, 512 << 10);
  }
  return 0;
}
