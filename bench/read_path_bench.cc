// CPU per chunk on the agent's read path (issue 12): what a miss costs once
// the stored bytes are in memory. Chunks are real ones: the first 64
// non-zero 512 KiB chunks of the ext4 image named by $LODE_BENCH_IMAGE (the
// flattened Debian test image in bench/coldstart_bench.sh), sealed with
// zstd as `lode push` does. Per chunk: the name check (SHA-256 of the
// stored bytes), AES-GCM authentication and decryption, zstd, and the whole
// miss as the agent ran it before (fetcher's name check, then chunk::Open,
// which hashed again) and after (name checked once, then OpenVerified).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cache/chunk_fetcher.h"
#include "chunk/convergent.h"

namespace {

constexpr size_t kChunk = 512 * 1024;

struct Sample {
  lode::chunk::SealedChunk sealed;
  std::string name_hex;
};

const std::vector<Sample>& Samples() {
  static const std::vector<Sample> samples = [] {
    std::vector<Sample> out;
    const char* path = std::getenv("LODE_BENCH_IMAGE");
    FILE* f = path ? std::fopen(path, "rb") : nullptr;
    if (f == nullptr) {
      std::fprintf(stderr, "read_path_bench: set LODE_BENCH_IMAGE to an ext4 image\n");
      std::exit(2);
    }
    lode::chunk::Salt salt{};
    std::vector<uint8_t> buf(kChunk);
    while (out.size() < 64 && std::fread(buf.data(), 1, kChunk, f) == kChunk) {
      if (lode::chunk::IsZero(buf)) continue;
      Sample s{lode::chunk::Seal(buf, salt, {.compress = true}), ""};
      s.name_hex = lode::chunk::NameHex(s.sealed.name);
      out.push_back(std::move(s));
    }
    std::fclose(f);
    return out;
  }();
  return samples;
}

template <typename F>
void PerChunk(benchmark::State& state, F step) {
  const std::vector<Sample>& samples = Samples();
  size_t i = 0;
  for (auto _ : state) {
    step(samples[i++ % samples.size()]);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_NameCheck(benchmark::State& state) {
  PerChunk(state, [](const Sample& s) {
    benchmark::DoNotOptimize(lode::cache::MatchesName(s.sealed.stored, s.name_hex));
  });
}
void BM_OpenVerified(benchmark::State& state) {  // AES-GCM + zstd
  PerChunk(state, [](const Sample& s) {
    auto plain =
        lode::chunk::OpenVerified(s.sealed.stored, s.sealed.key, s.sealed.compressed, kChunk);
    benchmark::DoNotOptimize(plain);
  });
}
void BM_MissBefore(benchmark::State& state) {  // name checked twice
  PerChunk(state, [](const Sample& s) {
    bool ok = lode::cache::MatchesName(s.sealed.stored, s.name_hex);
    auto plain = lode::chunk::Open(s.sealed.stored, s.sealed.name, s.sealed.key,
                                   s.sealed.compressed, kChunk);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(plain);
  });
}
void BM_MissAfter(benchmark::State& state) {  // name checked once
  PerChunk(state, [](const Sample& s) {
    bool ok = lode::cache::MatchesName(s.sealed.stored, s.name_hex);
    auto plain =
        lode::chunk::OpenVerified(s.sealed.stored, s.sealed.key, s.sealed.compressed, kChunk);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(plain);
  });
}
BENCHMARK(BM_NameCheck)->UseRealTime();
BENCHMARK(BM_OpenVerified)->UseRealTime();
BENCHMARK(BM_MissBefore)->UseRealTime();
BENCHMARK(BM_MissAfter)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
