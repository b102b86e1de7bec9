// Hundreds of randomly damaged images through `lode flatten`: damage in tar
// headers (checksums fixed, so the tar reader takes them), pax records,
// gzip streams, and config, manifest and index JSON, with every digest above
// the damage recomputed so the parsers, not the digest checks, meet it. Each
// run must end within its time limit either with exit 1, exactly one line
// and no output file, or with exit 0 and an image e2fsck finds clean.
//
// LODE_MUTATION_SEED and LODE_MUTATION_COUNT explore further than CI does;
// LODE_MUTATION_KEEP=DIR keeps the first failing mutant there.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "testing/files.h"
#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// Byte-level damage: flipped bits, bytes set to values parsers treat
// specially, an insertion, a deletion, a truncation or a repeated range.
void DamageBytes(std::string& s, size_t begin, size_t end, std::mt19937_64& rng) {
  if (s.empty() || begin >= end) return;
  auto pos = [&] { return begin + rng() % (end - begin); };
  static const char kSpecial[] = {'\0', '\xff', '/', '.', '"', '{', '9', '\n', '\x80'};
  switch (rng() % 7) {
    case 0:
    case 1:
      for (int i = 1 + rng() % 4; i > 0; --i) s[pos()] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 2:
      s[pos()] = kSpecial[rng() % sizeof(kSpecial)];
      break;
    case 3:
      s.insert(pos(), 1, kSpecial[rng() % sizeof(kSpecial)]);
      break;
    case 4:
      s.erase(pos(), 1 + rng() % 8);
      break;
    case 5:
      s.resize(pos());
      break;
    default: {
      size_t p = pos(), n = std::min<size_t>(1 + rng() % 64, s.size() - p);
      s.insert(p, s.substr(p, n));
    }
  }
}

// Structural JSON damage: some value replaced by one of another type or an
// extreme one; falls back to byte damage.
void DamageJson(std::string& text, std::mt19937_64& rng) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || rng() % 3 == 0) {
    DamageBytes(text, 0, text.size(), rng);
    return;
  }
  std::vector<json*> nodes;
  std::vector<json*> todo{&doc};
  while (!todo.empty()) {
    json* j = todo.back();
    todo.pop_back();
    nodes.push_back(j);
    if (j->is_structured()) {
      for (auto& child : *j) todo.push_back(&child);
    }
  }
  static const json kValues[] = {nullptr,
                                 -1,
                                 json(uint64_t{18446744073709551615u}),
                                 1e308,
                                 "",
                                 "sha256:" + std::string(64, '0'),
                                 "../../../etc/passwd",
                                 std::string(70000, 'x'),
                                 json::array(),
                                 json::object(),
                                 json::array({json::array({json::array()})}),
                                 true};
  json* target = nodes[rng() % nodes.size()];
  if (target->is_array() && !target->empty() && rng() % 2 == 0) {
    target->push_back((*target)[0]);  // a duplicated element
  } else {
    *target = kValues[rng() % std::size(kValues)];
  }
  text = doc.dump();
}

// Offsets of tar header blocks (ustar magic) in `tar`.
std::vector<size_t> HeaderBlocks(const std::string& tar) {
  std::vector<size_t> out;
  for (size_t off = 0; off + 512 <= tar.size(); off += 512) {
    if (tar.compare(off + 257, 5, "ustar") == 0) out.push_back(off);
  }
  return out;
}

void FixTarChecksum(std::string& tar, size_t header) {
  std::fill_n(tar.begin() + static_cast<long>(header) + 148, 8, ' ');
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[header + i]);
  char field[8];
  std::snprintf(field, sizeof(field), "%06o", sum);
  std::copy_n(field, 7, tar.begin() + static_cast<long>(header) + 148);
}

// Damages one header of the tar (or, after a pax 'x' header, its records),
// usually keeping the checksum valid so the reader goes on to use it.
void DamageTar(std::string& tar, std::mt19937_64& rng) {
  std::vector<size_t> headers = HeaderBlocks(tar);
  if (headers.empty()) return DamageBytes(tar, 0, tar.size(), rng);
  size_t h = headers[rng() % headers.size()];
  if (tar[h + 156] == 'x' && rng() % 2 == 0) {
    DamageBytes(tar, h + 512, std::min(h + 1024, tar.size()), rng);  // pax records
    return;
  }
  // Name, mode, ids, size, mtime, typeflag, link name, device numbers.
  static const std::pair<size_t, size_t> kFields[] = {{0, 100},   {100, 108}, {108, 124},
                                                      {124, 136}, {136, 148}, {156, 157},
                                                      {157, 257}, {329, 345}, {345, 500}};
  auto [begin, end] = kFields[rng() % std::size(kFields)];
  std::string block = tar.substr(h, 512);
  DamageBytes(block, begin, end, rng);
  block.resize(512, '\0');
  tar.replace(h, 512, block);
  if (rng() % 8 != 0) FixTarChecksum(tar, h);
}

// An OCI layout on disk whose blobs can be replaced, with every digest and
// size that refers to them rewritten.
class Layout {
 public:
  explicit Layout(std::string dir) : dir_(std::move(dir)) {}

  std::string Blob(const std::string& digest) const { return ReadAll(BlobPath(digest)); }
  json Index() const { return json::parse(ReadAll(dir_ + "/index.json")); }
  std::string ManifestDigest() const { return Index()["manifests"][0]["digest"]; }
  json Manifest() const { return json::parse(Blob(ManifestDigest())); }

  void ReplaceIndex(const std::string& text) const { WriteAll(dir_ + "/index.json", text); }

  void ReplaceManifest(const std::string& text) const {
    json index = Index();
    index["manifests"][0]["digest"] = Put(text);
    index["manifests"][0]["size"] = text.size();
    ReplaceIndex(index.dump());
  }

  // Replaces the blob the manifest names at `pointer` ("/config", "/layers/1").
  void ReplaceDescribed(const std::string& pointer, const std::string& bytes) const {
    json manifest = Manifest();
    json& d = manifest[json::json_pointer(pointer)];
    d["digest"] = Put(bytes);
    d["size"] = bytes.size();
    ReplaceManifest(manifest.dump());
  }

 private:
  std::string BlobPath(const std::string& digest) const {
    return dir_ + "/blobs/sha256/" + digest.substr(7);
  }
  std::string Put(const std::string& bytes) const {
    std::string digest = "sha256:" + Sha256Hex(bytes);
    WriteAll(BlobPath(digest), bytes);
    return digest;
  }

  std::string dir_;
};

class MutationTest : public ::testing::Test {
 protected:
  static ImageSpec BaseImage() {
    RulesImageOptions options;
    options.wide_entries = 40;
    options.sparse_size = 1 << 20;
    return BuildRulesImage(options);
  }

  // One damaged image in `dir`, described in `what`.
  void MakeMutant(const ImageSpec& base, const std::string& dir, std::mt19937_64& rng,
                  std::string* what) {
    ImageSpec spec = base;
    int kind = static_cast<int>(rng() % 6);
    size_t layer = rng() % spec.layers.size();
    if (kind == 0) DamageTar(spec.layers[layer], rng);
    TestCompression c = rng() % 4 == 0 ? TestCompression::kZstd : TestCompression::kGzip;
    WriteOciLayout(dir, spec, c);
    Layout layout(dir);
    std::string pointer = "/layers/" + std::to_string(layer);
    switch (kind) {
      case 0:
        *what = "tar header of layer " + std::to_string(layer);
        break;
      case 1: {
        *what = "compressed stream of layer " + std::to_string(layer);
        std::string blob = layout.Blob(layout.Manifest()[json::json_pointer(pointer)]["digest"]);
        DamageBytes(blob, 0, blob.size(), rng);
        layout.ReplaceDescribed(pointer, blob);
        break;
      }
      case 2:
      case 3: {
        *what = "config JSON";
        std::string config = layout.Blob(layout.Manifest()["config"]["digest"]);
        DamageJson(config, rng);
        layout.ReplaceDescribed("/config", config);
        break;
      }
      case 4: {
        *what = "manifest JSON";
        std::string manifest = layout.Blob(layout.ManifestDigest());
        DamageJson(manifest, rng);
        layout.ReplaceManifest(manifest);
        break;
      }
      default: {
        *what = "index JSON";
        std::string index = layout.Index().dump();
        DamageJson(index, rng);
        layout.ReplaceIndex(index);
      }
    }
  }

  ScratchDir dir_{"lode-mutation"};
};

TEST_F(MutationTest, DamagedImagesFailWithOneLineOrFlattenToCleanExt4) {
  uint64_t seed = EnvOr("LODE_MUTATION_SEED", 20261130);
  uint64_t count = EnvOr("LODE_MUTATION_COUNT", 300);
  std::mt19937_64 rng(seed);
  ImageSpec base = BaseImage();
  int failed = 0, flattened = 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::string layout = dir_ / ("mutant-" + std::to_string(i));
    std::string out_dir = dir_ / "out";
    fs::create_directories(out_dir);
    std::string what;
    MakeMutant(base, layout, rng, &what);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", mutant " + std::to_string(i) + ": " + what +
                 " (" + layout + ")");
    std::string out = out_dir + "/image.ext4";
    CommandResult r = RunCommand("timeout -s KILL 60 " + LodeBinary() + " flatten " +
                                 ShellQuote(layout) + " -o " + ShellQuote(out) + " 2>&1");
    if (r.exit_code == 0) {
      ++flattened;
      CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(out) + " 2>&1");
      EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
    } else {
      ++failed;
      EXPECT_EQ(r.exit_code, 1) << r.output;  // not a signal, not a timeout (137)
      EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
      EXPECT_EQ(r.output.rfind("lode: ", 0), 0u) << r.output;
      EXPECT_TRUE(fs::is_empty(out_dir)) << "output left behind";
    }
    if (::testing::Test::HasFailure()) {
      if (const char* keep = std::getenv("LODE_MUTATION_KEEP")) {
        fs::copy(layout, keep, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
      }
      break;
    }
    fs::remove_all(layout);
    fs::remove_all(out_dir);
  }
  std::printf("%llu mutants: %d refused with one line, %d flattened to clean ext4\n",
              static_cast<unsigned long long>(count), failed, flattened);
  // Both outcomes occur, or the damage is not reaching the parsers.
  EXPECT_GT(failed, 0);
  EXPECT_GT(flattened, 0);
}

}  // namespace
}  // namespace lode::testing
