// Root GC benchmark (issue 6). Ten versions of an application image share a
// base layer and most of their own files; each is pushed to a dir:// store
// and tagged. The five oldest are untagged, then one rotate / migrate /
// expire / sweep cycle runs. Reported:
//   - chunk bytes stored before, at the peak (both roots) and after the
//     cycle, against an ideal exact-refcount collector, which would keep
//     exactly the distinct chunks the live manifests name;
//   - migration throughput (chunks and MB per second) with 1 and 2 threads.
//
// Usage: gc_bench [RUNS] (default 3; throughput is the median).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "gc/gc.h"
#include "image/image.h"
#include "keys/key_service.h"
#include "push/push.h"
#include "store/layout.h"
#include "testing/layer_builder.h"
#include "testing/scratch_dir.h"
#include "util/file.h"
#include "util/task_queue.h"

namespace {

using namespace lode;

constexpr int kVersions = 10;
constexpr int kBaseFiles = 96;  // 1 MiB each
constexpr int kAppFiles = 16;   // 1 MiB each
constexpr int kChangedPerVersion = 3;

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "gc_bench: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}
void Must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "gc_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// Compressible like binaries: random bytes over a small alphabet.
std::string Content(std::mt19937_64& rng) {
  std::string s(1 << 20, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 24);
  return s;
}

// Layer tarballs: base.tar, and app-V.tar where version V rewrites
// kChangedPerVersion of the app files of version V-1.
std::vector<std::string> WriteLayers(const testing::ScratchDir& dir) {
  std::mt19937_64 rng(42);
  testing::LayerBuilder base;
  base.Dir("usr");
  for (int i = 0; i < kBaseFiles; ++i) base.File("usr/lib" + std::to_string(i), Content(rng));
  Must(WriteFileAtomically(dir / "base.tar", base.Finish()), "write base");
  std::vector<std::string> app(kAppFiles);
  for (std::string& f : app) f = Content(rng);
  std::vector<std::string> tars;
  for (int v = 1; v <= kVersions; ++v) {
    if (v > 1) {
      for (int k = 0; k < kChangedPerVersion; ++k) app[rng() % kAppFiles] = Content(rng);
    }
    testing::LayerBuilder layer;
    layer.Dir("app");
    for (int i = 0; i < kAppFiles; ++i) layer.File("app/part" + std::to_string(i), app[i]);
    std::string tar = dir / ("app-" + std::to_string(v) + ".tar");
    Must(WriteFileAtomically(tar, layer.Finish()), "write app layer");
    tars.push_back(tar);
  }
  return tars;
}

uint64_t ChunkBytes(store::ObjectStore& store) {
  uint64_t bytes = 0;
  for (const store::ObjectInfo& o : Must(store.ListObjects(""), "list")) {
    if (o.key.find("/chunks/") != std::string::npos) bytes += o.size;
  }
  return bytes;
}

// What an exact reference-counting collector keeps: the distinct chunks of
// the live images.
uint64_t LiveChunkBytes(store::ObjectStore& store, keys::KeyService& keys) {
  std::set<std::string> seen;
  uint64_t bytes = 0;
  for (const catalog::TaggedImage& t : Must(catalog::ListAllTags(store), "tags")) {
    manifest::Manifest m = Must(catalog::OpenManifest(store, t.ref, keys, t.tenant), "manifest");
    for (const manifest::ChunkEntry& e : m.chunks) {
      if (!e.hole() && seen.insert(t.ref.root + chunk::NameHex(e.name)).second) {
        bytes += e.stored_length;
      }
    }
  }
  return bytes;
}

struct Run {
  uint64_t before = 0, ideal = 0, peak = 0, after = 0;
  uint64_t chunks_copied = 0, bytes_copied = 0;
  double migrate_seconds = 0;
  double plain_copy_seconds = 0;  // the same objects copied as they are
};

// The baseline for migration: copying `root`'s chunks object by object
// through the store (get, durable put) without opening or re-sealing them.
double PlainCopySeconds(store::ObjectStore& store, const std::string& root, int threads) {
  std::vector<std::string> keys = Must(store.List(store::RootPrefix(root) + "chunks/"), "list");
  auto start = std::chrono::steady_clock::now();
  {
    TaskQueue queue(threads, static_cast<size_t>(threads) * 2);
    for (const std::string& key : keys) {
      Must(queue.Submit([&store, key] {
        LODE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store.Get(key));
        return store.Put("plain-copy/" + key, bytes);
      }),
           "copy");
    }
    Must(queue.Finish(), "copy");
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& key : keys) Must(store.Delete("plain-copy/" + key), "delete copy");
  return seconds;
}

Run OneCycle(const testing::ScratchDir& layers, const std::vector<std::string>& app_tars,
             int threads) {
  testing::ScratchDir dir("lode-gc-bench");
  auto store = Must(store::OpenStore("dir://" + dir / "store"), "open store");
  auto keys = Must(keys::OpenLocalKeyService(dir / "keys"), "open keys");
  Must(keys->CreateTenant("app").status(), "tenant");
  for (int v = 1; v <= kVersions; ++v) {
    image::Image img =
        Must(image::OpenLayerTarballs({layers / "base.tar", app_tars[v - 1]}), "open image");
    push::PushOptions o;
    o.tenant = "app";
    push::PushResult r = Must(push::Push(img, o, *keys, *store), "push");
    Must(catalog::SetTag(*store, "app", "v" + std::to_string(v), r.ref), "tag");
  }
  Run run;
  run.before = ChunkBytes(*store);
  for (int v = 1; v <= kVersions / 2; ++v) {
    Must(catalog::DeleteTag(*store, "app", "v" + std::to_string(v)), "untag");
  }
  run.ideal = LiveChunkBytes(*store, *keys);
  int64_t now = store::UnixNow();
  Must(gc::Rotate(*store, now).status(), "rotate");
  auto start = std::chrono::steady_clock::now();
  gc::MigrateResult m = Must(gc::Migrate(*store, *keys, {.threads = threads}), "migrate");
  run.migrate_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.chunks_copied = m.chunks_copied;
  run.bytes_copied = m.bytes_copied;
  run.peak = ChunkBytes(*store);
  run.plain_copy_seconds = PlainCopySeconds(*store, "root-1", threads);
  Must(gc::Expire(*store, now).status(), "expire");
  Must(gc::Sweep(*store, {.older_than = 0, .now = now}).status(), "sweep");
  run.after = ChunkBytes(*store);
  if (LiveChunkBytes(*store, *keys) != run.after) {
    std::fprintf(stderr, "gc_bench: after the cycle the store holds unreachable chunks\n");
    std::exit(1);
  }
  return run;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double MB(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  testing::ScratchDir layers("lode-gc-bench-layers");
  std::vector<std::string> app_tars = WriteLayers(layers);
  Run last;
  for (int threads : {1, 2}) {
    std::vector<double> chunks_per_s, mb_per_s, plain_per_s;
    for (int i = 0; i < runs; ++i) {
      last = OneCycle(layers, app_tars, threads);
      double chunks = static_cast<double>(last.chunks_copied);
      chunks_per_s.push_back(chunks / last.migrate_seconds);
      mb_per_s.push_back(MB(last.bytes_copied) / last.migrate_seconds);
      plain_per_s.push_back(chunks / last.plain_copy_seconds);
    }
    std::printf(
        "migration, %d thread%s: %llu chunks (%.1f MB) re-sealed and copied; median of %d: "
        "%.0f chunks/s, %.0f MB/s; plain copy of the same objects %.0f chunks/s "
        "(migration at %.0f%% of it)\n",
        threads, threads == 1 ? "" : "s", static_cast<unsigned long long>(last.chunks_copied),
        MB(last.bytes_copied), runs, Median(chunks_per_s), Median(mb_per_s), Median(plain_per_s),
        100 * Median(chunks_per_s) / Median(plain_per_s));
  }
  std::printf("storage, %d versions, %d untagged, one rotate/migrate/expire/sweep cycle:\n",
              kVersions, kVersions / 2);
  std::printf("  before            %8.1f MB of chunks\n", MB(last.before));
  std::printf("  peak (2 roots)    %8.1f MB\n", MB(last.peak));
  std::printf("  after the cycle   %8.1f MB (reclaimed %.1f MB)\n", MB(last.after),
              MB(last.before - last.after));
  std::printf("  exact refcount    %8.1f MB (reclaimed %.1f MB)\n", MB(last.ideal),
              MB(last.before - last.ideal));
  std::printf("  after / ideal     %8.3f\n",
              static_cast<double>(last.after) / static_cast<double>(last.ideal));
  return 0;
}
