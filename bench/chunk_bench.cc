// Chunk pipeline throughput: sealing 512 KiB chunks (HMAC-SHA256 key,
// AES-256-GCM, SHA-256 name) from memory on 1 and 2 threads, without and
// with zstd. Run by bench/push_bench.sh, which sets it against the machine's
// own AES-GCM and SHA-256 speed.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "chunk/convergent.h"

namespace {

constexpr size_t kChunk = 512 * 1024;

std::vector<uint8_t> Incompressible() {
  std::vector<uint8_t> v(kChunk);
  std::mt19937_64 rng(1);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_SealChunk(benchmark::State& state) {
  static const std::vector<uint8_t> data = Incompressible();
  lode::chunk::Salt salt{};
  salt[0] = static_cast<uint8_t>(state.thread_index());
  bool compress = state.range(0) != 0;
  for (auto _ : state) {
    lode::chunk::SealedChunk s = lode::chunk::Seal(data, salt, {.compress = compress});
    benchmark::DoNotOptimize(s.name);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kChunk));
}
BENCHMARK(BM_SealChunk)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
