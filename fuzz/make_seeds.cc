// Writes the seeds no one writes by hand (into fuzz/corpus/TARGET):
// objects sealed with fuzz_keys.h's keys, L2 stripes with their checksums,
// docker-archive tarballs.
//   make_seeds CORPUS_DIR
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cache/erasure.h"
#include "catalog/profile.h"
#include "fuzz_keys.h"
#include "keys/keyd_protocol.h"
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

// Connections of keyd_request_fuzz.cc: a caller byte (0: admin and worker
// "w", 2: gc, 3: pusher, 4: nobody), then requests.
void KeydSeeds(const std::string& dir) {
  using namespace lode;
  using nlohmann::json;
  fuzz::Keys fixed = fuzz::FixedKeys();
  manifest::Manifest m;
  m.fs_size = 512 * 1024;
  m.chunk_size = 512 * 1024;
  m.chunks.resize(1);
  std::vector<uint8_t> sealed = manifest::Seal(m, fixed.tenant.public_key);
  std::string image = "root-0/" + manifest::ManifestId(sealed);
  std::string open = keys::EncodeRequest(
      {{"op", "open"}, {"kind", "manifest"}, {"tenant", "t"}, {"subject", image}},
      std::string(sealed.begin(), sealed.end()));
  std::string grant = keys::EncodeRequest({{"op", "grant"},
                                           {"tenant", "t"},
                                           {"worker", "w"},
                                           {"image", image},
                                           {"label", "app"},
                                           {"ttl_seconds", 60}});
  auto as = [](char caller, const std::string& requests) {
    return std::string(1, caller) + requests;
  };
  std::map<std::string, std::string> seeds = {
      {"grant-then-open", as(0, grant + open)},
      {"open-ungranted", as(0, open)},
      {"gc-opens", as(2, open)},
      {"revoke-then-open",
       as(0, grant +
                 keys::EncodeRequest(
                     {{"op", "revoke"}, {"tenant", "t"}, {"worker", "w"}, {"image", image}}) +
                 open)},
      {"grants", as(0, grant + keys::EncodeRequest({{"op", "grants"}}))},
      {"follow",
       as(2, keys::EncodeRequest(
                 {{"op", "follow"}, {"tenant", "t"}, {"from", image}, {"to", "root-1/x"}}))},
      {"pusher", as(3, keys::EncodeRequest({{"op", "public_key"}, {"tenant", "t"}}) +
                           keys::EncodeRequest({{"op", "salt"}, {"id", "root-0.default.0"}}) +
                           keys::EncodeRequest(
                               {{"op", "salt_epoch"}, {"root", "root-0"}, {"domain", "default"}}))},
      {"admin",
       as(0, keys::EncodeRequest({{"op", "tenants"}}) + keys::EncodeRequest({{"op", "whoami"}}))},
      {"nobody", as(4, open + keys::EncodeRequest({{"op", "tenants"}}))},
      {"malformed", as(0, "{\"op\": 7}\n[1,2]\n{\"op\":\"open\",\"payload_bytes\":-1}\n")},
      {"truncated-payload", as(0, open.substr(0, open.size() - 10))},
  };
  for (const auto& [name, text] : seeds) {
    Write(dir + "/" + name, std::vector<uint8_t>(text.begin(), text.end()));
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  std::string corpus = argv[1];
  SealedSeeds(corpus + "/sealed");
  StripeSeeds(corpus + "/l2_stripes");
  DockerArchiveSeeds(corpus + "/docker_archive");
  KeydSeeds(corpus + "/keyd_request");
  return 0;
}
