// Writes the seeds no one writes by hand (into fuzz/corpus/TARGET):
// objects sealed with fuzz_keys.h's keys, L2 stripes with their checksums,
// docker-archive tarballs.
//   make_seeds CORPUS_DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cache/erasure.h"
#include "catalog/profile.h"
#include "fuzz_keys.h"
#include "manifest/manifest.h"
#include "testing/layer_builder.h"

namespace {

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void SealedSeeds(const std::string& dir) {
  using namespace lode;
  fuzz::Keys fixed = fuzz::FixedKeys();
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
  Write(dir + "/manifest-sealed", manifest::Seal(m, fixed.tenant.public_key));
  catalog::StartupProfile p{{2, 0, 1}};
  Write(dir + "/profile-plain", catalog::EncodeProfile(p));
  Write(dir + "/profile-sealed",
        manifest::SealToTenant(keys::SealedKind::kProfile, fuzz::kProfileSubject,
                               catalog::EncodeProfile(p), fixed.tenant.public_key));
}

// In l2_stripes_fuzz.cc's framing: the code byte, then length-prefixed
// stripes; one seed with every stripe, one with a stripe missing.
void StripeSeeds(const std::string& dir) {
  lode::cache::ErasureCode code{4, 1};
  std::vector<uint8_t> chunk(3000);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>(i * 7);
  auto stripes = lode::cache::EncodeStripes(chunk, "fuzz-chunk", code);
  for (int skip : {-1, 2}) {
    std::vector<uint8_t> seed{static_cast<uint8_t>((code.k - 1) + 8 * code.m)};
    for (int i = 0; i < code.total(); ++i) {
      const std::vector<uint8_t> none;
      const std::vector<uint8_t>& s = i == skip ? none : stripes[i];
      seed.push_back(static_cast<uint8_t>(s.size()));
      seed.push_back(static_cast<uint8_t>(s.size() >> 8));
      seed.insert(seed.end(), s.begin(), s.end());
    }
    Write(dir + (skip < 0 ? "/all" : "/one-missing"), seed);
  }
}

void DockerArchiveSeeds(const std::string& dir) {
  using namespace lode::testing;
  ImageSpec spec;
  spec.layers.push_back(LayerBuilder().Dir("etc").File("etc/hosts", "127.0.0.1 x\n").Finish());
  spec.layers.push_back(LayerBuilder().Whiteout("etc/hosts").Symlink("etc/link", "hosts").Finish());
  WriteDockerArchive(dir + "/legacy", spec, DockerArchiveStyle::kLegacy);
  WriteDockerArchive(dir + "/blobs", spec, DockerArchiveStyle::kBlobs);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  std::string corpus = argv[1];
  SealedSeeds(corpus + "/sealed");
  StripeSeeds(corpus + "/l2_stripes");
  DockerArchiveSeeds(corpus + "/docker_archive");
  return 0;
}
