// Content is words drawn from a small vocabulary by a fixed-seed generator,
// which compresses about 3:1 with gzip, like typical binaries and text.
// File sizes: mostly 1-32 KiB, one in 200 between 1 and 8 MiB. The top layer
// rewrites some files of the base layer.
#include "testing/large_image.h"

#include <cstdio>
#include <random>

namespace lode::testing {
namespace {

constexpr const char* kWords[] = {"lode ",   "chunk ",       "image ", "layer ",  "block ",
                                  "extent ", "inode ",       "cache ", "fetch ",  "store ",
                                  "0x7f3a ", "\x01\x02\x03", "\n",     "return ", "static ",
                                  "void ",   "int ",         "{ ",     "} ",      "libc.so.6 "};

std::string Content(std::mt19937_64& rng, size_t n) {
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    uint64_t r = rng();
    for (int i = 0; i < 8 && s.size() < n; ++i, r >>= 8) {
      s += kWords[(r & 0xff) % std::size(kWords)];
      if ((r & 0x3f) == 0) s += static_cast<char>(r >> 8);
    }
  }
  s.resize(n);
  return s;
}

size_t FileSize(std::mt19937_64& rng) {
  if (rng() % 200 == 0) return (1 + rng() % 8) << 20;
  return 1024 + rng() % (32 * 1024);
}

std::string Layer(std::mt19937_64& rng, const std::string& prefix, uint64_t bytes,
                  std::vector<std::string>* names) {
  LayerBuilder b;
  b.Dir(prefix);
  uint64_t written = 0;
  for (int d = 0; written < bytes; ++d) {
    char dir[64];
    std::snprintf(dir, sizeof dir, "%s/d%04d", prefix.c_str(), d);
    b.Dir(dir);
    for (int f = 0; f < 200 && written < bytes; ++f) {
      std::string name = std::string(dir) + "/f" + std::to_string(f) + ".bin";
      size_t size = FileSize(rng);
      b.File(name, Content(rng, size));
      if (names) names->push_back(name);
      written += size;
    }
  }
  return b.Finish();
}

}  // namespace

ImageSpec BuildLargeImage(const LargeImageOptions& options) {
  std::mt19937_64 rng(options.seed);
  ImageSpec spec;
  std::vector<std::string> base_names;
  spec.layers.push_back(Layer(rng, "usr", options.total_bytes * 6 / 10, &base_names));
  spec.layers.push_back(Layer(rng, "opt", options.total_bytes * 3 / 10, nullptr));
  LayerBuilder top;
  uint64_t written = 0;
  for (size_t i = 0; i < base_names.size() && written < options.total_bytes / 10; i += 7) {
    size_t size = FileSize(rng);
    top.File(base_names[i], Content(rng, size));
    written += size;
  }
  spec.layers.push_back(top.Finish());
  return spec;
}

}  // namespace lode::testing
