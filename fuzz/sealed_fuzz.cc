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
  static const fuzz::Keys fixed = fuzz::FixedKeys();
  std::span<const uint8_t> in(data, size);
  (void)manifest::Decode(in);
  // As a reader opens them: the data key (the subject checked), then the body.
  Result<keys::DataKey> key = keys::UnsealDataKey(
      {keys::SealedKind::kManifest, "t", "root-0/" + manifest::ManifestId(in), in}, fixed.tenant);
  if (key.ok()) (void)manifest::Open(in, *key);
  (void)catalog::DecodeProfile(in, 1 << 20);
  key = keys::UnsealDataKey({keys::SealedKind::kProfile, "t", fuzz::kProfileSubject, in},
                            fixed.tenant);
  if (key.ok()) (void)manifest::OpenSealedBody(keys::SealedKind::kProfile, in, *key, "fuzz");
  for (bool compressed : {false, true}) {
    (void)chunk::OpenVerified(in, fixed.chunk_key, compressed, 512 << 10);
  }
  return 0;
}
