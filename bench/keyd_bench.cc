// Opens of one manifest's data key per second, from THREADS client threads
// for SECONDS, through keyd (--keyd SOCKET) or the local key directory
// (--keys DIR, the embedded default: the crypto alone). Prints one JSON
// object: opens, per_second and the latency percentiles of one open.
//   keyd_bench --store URL --tenant T --ref ROOT/ID (--keyd SOCKET | --keys DIR)
//              [--threads N] [--seconds S]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "keys/key_service.h"
#include "keys/keyd_client.h"
#include "store/layout.h"
#include "store/object_store.h"

int main(int argc, char** argv) {
  using namespace lode;
  CLI::App app("keyd_bench");
  std::string store_url, tenant, ref, keyd, key_dir;
  int threads = 1;
  double seconds = 5;
  app.add_option("--store", store_url)->required();
  app.add_option("--tenant", tenant)->required();
  app.add_option("--ref", ref)->required();
  app.add_option("--keyd", keyd);
  app.add_option("--keys", key_dir);
  app.add_option("--threads", threads);
  app.add_option("--seconds", seconds);
  CLI11_PARSE(app, argc, argv);

  auto store = store::OpenStore(store_url);
  auto parsed = store::ParseImageRef(ref);
  if (!store.ok() || !parsed.ok()) return 2;
  auto sealed = (*store)->Get(store::ManifestKey(parsed->root, parsed->manifest_id));
  if (!sealed.ok()) {
    std::fprintf(stderr, "%s\n", sealed.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<keys::KeyService> service;
  if (!keyd.empty()) {
    service = keys::KeydKeyService(keys::KeydClient::Create(keyd).value());
  } else {
    service = keys::OpenLocalKeyService(key_dir).value();
  }
  keys::SealedObject object{keys::SealedKind::kManifest, tenant, ref, *sealed};
  auto probe = service->OpenDataKey(object);
  if (!probe.ok()) {
    std::fprintf(stderr, "%s\n", probe.status().ToString().c_str());
    return 1;
  }

  using Clock = std::chrono::steady_clock;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int> failures = 0;
  std::vector<std::thread> workers;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (Clock::now() < end) {
        auto begin = Clock::now();
        if (!service->OpenDataKey(object).ok()) ++failures;
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
      }
    });
  }
  for (std::thread& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  nlohmann::json out = {
      {"opens", all.size()}, {"failures", failures.load()}, {"per_second", all.size() / elapsed},
      {"p50_us", pct(0.5)},  {"p99_us", pct(0.99)},         {"manifest_bytes", sealed->size()},
      {"threads", threads}};
  std::printf("%s\n", out.dump().c_str());
  return failures == 0 ? 0 : 1;
}
