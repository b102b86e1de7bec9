// CPU per chunk of choosing its L2 servers (cache::RankServers: rendezvous
// hashing, one SHA-256 of "server/chunk" per server). The memcached tier
// does it on every L2 read and write; the fleet simulator on every chunk
// it first sees, and on every function it first places with affinity
// (over all workers). Argument: the number of servers.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "cache/placement.h"
#include "util/sha256.h"

namespace {

void BM_RankServers(benchmark::State& state) {
  std::vector<std::string> servers;
  for (int64_t i = 0; i < state.range(0); ++i) {
    servers.push_back("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":11211");
  }
  uint64_t chunk = 0;
  for (auto _ : state) {
    std::string name = std::to_string(++chunk);
    benchmark::DoNotOptimize(lode::cache::RankServers(servers, name, 5));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RankServers)->Arg(5)->Arg(40)->Arg(1000);

// One SHA-256 of a short message, the unit of the above.
void BM_Sha256Short(benchmark::State& state) {
  std::string message = "10.0.0.1:11211/0123456789abcdef";
  for (auto _ : state) benchmark::DoNotOptimize(lode::Sha256::Of(message));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Sha256Short);

}  // namespace

BENCHMARK_MAIN();
