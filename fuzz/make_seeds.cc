// Writes the sealed-object seeds of fuzz/corpus/sealed (objects sealed with
// fuzz_keys.h's keys, which random bytes would never be):
//   make_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "catalog/profile.h"
#include "fuzz_keys.h"
#include "manifest/manifest.h"

namespace {

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lode;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  fuzz::Keys keys = fuzz::FixedKeys();
  manifest::Manifest m;
  m.fs_size = 3 * 512 * 1024 - 100;
  m.chunk_size = 512 * 1024;
  m.image_config = R"({"entrypoint":["/bin/sh"]})";
  m.chunks.resize(3);
  m.chunks[0].name.fill(1);
  m.chunks[0].key.fill(2);
  m.chunks[2].name.fill(3);
  m.chunks[2].key.fill(4);
  Write(dir + "/manifest-plain", manifest::Encode(m));
  Write(dir + "/manifest-sealed", manifest::Seal(m, keys.tenant_public));
  catalog::StartupProfile p{{2, 0, 1}};
  Write(dir + "/profile-plain", catalog::EncodeProfile(p));
  Write(dir + "/profile-sealed",
        manifest::SealToTenant(catalog::kSealedProfileMagic, catalog::EncodeProfile(p),
                               keys.tenant_public));
  return 0;
}
