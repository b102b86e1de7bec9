// Root GC against a simple model. A seeded random sequence of pushes, tags,
// untags, rotations, migrations (some cut short at a random step, as a
// crash would), expiries, sweeps, alarm clearing and reads runs in-process on
// a dir:// store whose reads raise alarms with no state caching. The model is
// only: which variant each tag names, and which readers hold which tag.
// Invariants, checked as it goes:
//   - every tagged image exports byte for byte equal to its flattened
//     variant, and so does every reader holding an old reference (following
//     its tag when its root is gone, as agents do);
//   - a read of an expired root leaves an alarm, and sweep keeps that root;
//   - after a sweep, chunks lie only in active roots and in roots something
//     still needs (tags, alarms, or not yet old enough);
//   - deleted roots hold no objects; root states only move forward.
// LODE_GC_MODEL_STEPS sets the number of steps (default 2500), LODE_GC_SEED
// the seed (default: three fixed seeds).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "flatten/sink.h"
#include "gc/gc.h"
#include "image/image.h"
#include "push/export.h"
#include "push/push.h"
#include "store/layout.h"
#include "store/roots.h"
#include "testing/layer_builder.h"
#include "testing/scratch_dir.h"
#include "util/file.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kChunk = 4096;
constexpr int kVariants = 6;
const std::vector<std::string> kTenants = {"t0", "t1"};

// Image variants: a shared base layer plus a layer of their own, part of
// which repeats across variants (so chunks deduplicate between images).
class Variants {
 public:
  explicit Variants(const ScratchDir& dir) : dir_(dir) {
    std::mt19937 rng(7);
    auto blob = [&](size_t n) {
      std::string s(n, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      return s;
    };
    LayerBuilder base;
    base.Dir("base");
    for (int i = 0; i < 4; ++i) base.File("base/f" + std::to_string(i), blob(3 * kChunk));
    EXPECT_TRUE(WriteFileAtomically(dir_ / "base.tar", base.Finish()).ok());
    std::string shared = blob(2 * kChunk);
    for (int v = 0; v < kVariants; ++v) {
      LayerBuilder top;
      top.Dir("app");
      top.File("app/own", blob(kChunk + 1000 * v));
      if (v % 2 == 0) top.File("app/shared", shared);
      EXPECT_TRUE(WriteFileAtomically(Tar(v), top.Finish()).ok());
      std::string out = dir_ / std::to_string(v).append(".img");
      auto sink = *flatten::NewFileSink(out);
      EXPECT_TRUE(flatten::Flatten(Open(v), Options(), sink.get()).ok());
      flattened_.push_back(*ReadFileToBytes(out));
    }
  }

  image::Image Open(int v) const { return *image::OpenLayerTarballs({dir_ / "base.tar", Tar(v)}); }
  static flatten::FlattenOptions Options() {
    return {.headroom_bytes = 0, .layer_alignment = kChunk, .extra_inodes = 0};
  }
  const std::vector<uint8_t>& Flattened(int v) const { return flattened_[v]; }

 private:
  std::string Tar(int v) const { return dir_ / std::to_string(v).append(".tar"); }
  const ScratchDir& dir_;
  std::vector<std::vector<uint8_t>> flattened_;
};

// The value of a call that must succeed (a failure ends the test here).
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return T();
  }
  return std::move(r).value();
}

// The bytes `lode export` gives for `ref` (written to `scratch`).
Result<std::vector<uint8_t>> ExportBytes(store::ObjectStore& store, keys::KeyService& keys,
                                         const std::string& tenant, const store::ImageRef& ref,
                                         const std::string& scratch) {
  LODE_ASSIGN_OR_RETURN(manifest::Manifest m, catalog::OpenManifest(store, ref, keys, tenant));
  LODE_RETURN_IF_ERROR(push::Export(store, m, scratch).status());
  return ReadFileToBytes(scratch);
}

// An agent-like reader of a tagged image. It holds the reference it
// resolved when it started; it lives as long as its tag names that image.
struct Reader {
  std::string tenant, tag;
  int variant;
  store::ImageRef ref;
};

class GcModel {
 public:
  GcModel(uint64_t seed, const ScratchDir& dir, const Variants& variants)
      : rng_(seed), dir_(dir), variants_(variants) {
    store_ = *store::OpenStore("dir://" + dir_ / "store", std::chrono::milliseconds(0));
    keys_ = *keys::OpenLocalKeyService(dir_ / "keys");
    for (const std::string& t : kTenants) (void)keys_->CreateTenant(t);
  }

  void Step() {
    ++now_;
    int dice = Pick(100);
    if (dice < 16) return Push();
    if (dice < 21) return TagAgain();
    if (dice < 29) return Untag();
    if (dice < 33) return Rotate();
    if (dice < 43) return Migrate();
    if (dice < 50) return Expire();
    if (dice < 58) return Sweep();
    if (dice < 61) return ClearAlarms();
    if (dice < 75) return ReadTag();
    if (dice < 82) return StartReader();
    if (dice < 96) return ReaderReads();
    return FollowMigrations();
  }

  // Every tag and every reader, read in full.
  void CheckAll() {
    for (const auto& [key, variant] : tags_) ExpectReadable(key.first, key.second, variant);
    for (size_t i = 0; i < readers_.size(); ++i) ReadAsReader(i);
  }

  std::map<std::string, int> counts;  // steps taken, by kind

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  const std::string& AnyTenant() { return kTenants[Pick(static_cast<int>(kTenants.size()))]; }
  std::string NewTagName() { return "tag" + std::to_string(Pick(12)); }
  // A random tag of the model, if any.
  std::optional<std::pair<std::string, std::string>> AnyTag() {
    if (tags_.empty()) return std::nullopt;
    auto it = tags_.begin();
    std::advance(it, Pick(static_cast<int>(tags_.size())));
    return it->first;
  }

  void Push() {
    counts["push"]++;
    int v = Pick(kVariants);
    push::PushOptions o;
    o.tenant = AnyTenant();
    o.chunk_size = kChunk;
    o.threads = 2;
    o.flatten = Variants::Options();
    Result<push::PushResult> r = push::Push(variants_.Open(v), o, *keys_, *store_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string tag = NewTagName();
    ASSERT_TRUE(catalog::SetTag(*store_, o.tenant, tag, r->ref).ok());
    Retag(o.tenant, tag, v);
  }

  // The model's side of pointing a tag elsewhere: its readers end.
  void Retag(const std::string& tenant, const std::string& tag, std::optional<int> variant) {
    std::erase_if(readers_, [&](const Reader& r) { return r.tenant == tenant && r.tag == tag; });
    if (variant) {
      tags_[{tenant, tag}] = *variant;
    } else {
      tags_.erase({tenant, tag});
    }
  }

  void TagAgain() {
    auto from = AnyTag();
    if (!from) return;
    counts["tag"]++;
    store::ImageRef ref = Must(catalog::ResolveRef(*store_, from->first, from->second));
    std::string tag = NewTagName();
    ASSERT_TRUE(catalog::SetTag(*store_, from->first, tag, ref).ok());
    Retag(from->first, tag, tags_[*from]);
  }

  void Untag() {
    auto tag = AnyTag();
    if (!tag) return;
    counts["untag"]++;
    ASSERT_TRUE(catalog::DeleteTag(*store_, tag->first, tag->second).ok());
    Retag(tag->first, tag->second, std::nullopt);
  }

  void Rotate() {
    counts["rotate"]++;
    ASSERT_TRUE(gc::Rotate(*store_, now_, /*keep_active=*/Pick(4) == 0).ok());
    CheckStates();
  }

  void Migrate() {
    gc::MigrateOptions o;
    o.threads = 2;
    int crash_at = Pick(3) == 0 ? 1 + Pick(40) : 0;  // a third are cut short
    std::atomic<int> steps = 0;
    if (crash_at) {
      o.before_step = [&](const std::string&) {
        return ++steps == crash_at ? Status::Unavailable("crash") : Status::Ok();
      };
    }
    Result<gc::MigrateResult> r = gc::Migrate(*store_, *keys_, o);
    counts[crash_at && !r.ok() ? "migrate (crashed)" : "migrate"]++;
    if (!crash_at) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  void Expire() {
    counts["expire"]++;
    ASSERT_TRUE(gc::Expire(*store_, now_).ok());
    CheckStates();
  }

  void Sweep() {
    counts["sweep"]++;
    std::map<std::string, size_t> alarms;
    for (const store::Alarm& a : Must(store::ListAlarms(*store_, ""))) alarms[a.root]++;
    Result<gc::SweepResult> r = gc::Sweep(*store_, {.older_than = Pick(4), .now = now_});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    counts["roots deleted"] += r->deleted.size();
    for (const std::string& root : r->deleted) {
      EXPECT_EQ(alarms[root], 0u) << "swept " << root << " despite alarms";
      EXPECT_TRUE(Must(store_->List(store::RootPrefix(root))).empty()) << root;
    }
    CheckStates();
    CheckOnlyNeededRootsHoldChunks();
  }

  void ClearAlarms() {
    std::set<std::string> roots;
    for (const store::Alarm& a : Must(store::ListAlarms(*store_, ""))) roots.insert(a.root);
    if (roots.empty()) return;
    counts["clear alarms"]++;
    for (const std::string& root : roots) ASSERT_TRUE(store::ClearAlarms(*store_, root).ok());
  }

  void ReadTag() {
    auto tag = AnyTag();
    if (!tag) return;
    counts["read tag"]++;
    ExpectReadable(tag->first, tag->second, tags_[*tag]);
  }

  void StartReader() {
    auto tag = AnyTag();
    if (!tag) return;
    counts["start reader"]++;
    readers_.push_back({tag->first, tag->second, tags_[*tag],
                        Must(catalog::ResolveRef(*store_, tag->first, tag->second))});
  }

  void ReaderReads() {
    if (readers_.empty()) return;
    counts["reader reads"]++;
    ReadAsReader(Pick(static_cast<int>(readers_.size())));
  }

  void FollowMigrations() {
    counts["follow migrations"]++;
    for (Reader& r : readers_) Follow(r);
  }

  // Where gc copied the reader's image, as agents look it up.
  void Follow(Reader& r) {
    while (std::optional<store::ImageRef> to = Must(catalog::FindMigration(*store_, r.ref))) {
      r.ref = *to;
    }
  }

  // Reads the reader's reference; once its root is gone, the reader follows
  // the image's migration. A read of an expired root must leave an alarm.
  void ReadAsReader(size_t i) {
    Reader& r = readers_[i];
    store::RootState state = Must(store::GetRoot(*store_, r.ref.root)).state;
    size_t alarms_before = Must(store::ListAlarms(*store_, r.ref.root)).size();
    Result<std::vector<uint8_t>> bytes = Export(r.tenant, r.ref);
    if (state == store::RootState::kExpired) {
      counts["reads of expired roots"]++;
      EXPECT_GT(Must(store::ListAlarms(*store_, r.ref.root)).size(), alarms_before)
          << "read of expired " << r.ref.root << " raised no alarm";
    }
    if (!bytes.ok()) {
      ASSERT_EQ(state, store::RootState::kDeleted) << bytes.status().ToString();
      Follow(r);
      bytes = Export(r.tenant, r.ref);
    }
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_TRUE(*bytes == variants_.Flattened(r.variant))
        << "reader of " << r.tenant << "/" << r.tag << " at " << r.ref.ToString();
  }

  void ExpectReadable(const std::string& tenant, const std::string& tag, int variant) {
    Result<store::ImageRef> ref = catalog::ResolveRef(*store_, tenant, tag);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    Result<std::vector<uint8_t>> bytes = Export(tenant, *ref);
    ASSERT_TRUE(bytes.ok()) << tenant << "/" << tag << ": " << bytes.status().ToString();
    EXPECT_TRUE(*bytes == variants_.Flattened(variant)) << tenant << "/" << tag;
  }

  Result<std::vector<uint8_t>> Export(const std::string& tenant, const store::ImageRef& ref) {
    return ExportBytes(*store_, *keys_, tenant, ref, dir_ / "export.img");
  }

  void CheckStates() {
    for (const store::RootRecord& r : Must(store::ListRoots(*store_))) {
      auto [it, fresh] = states_.emplace(r.id, r.state);
      EXPECT_GE(static_cast<int>(r.state), static_cast<int>(it->second)) << r.id << " went back";
      it->second = r.state;
      if (r.state == store::RootState::kDeleted) {
        EXPECT_TRUE(Must(store_->List(store::RootPrefix(r.id))).empty()) << r.id;
      }
    }
  }

  // After a sweep: no chunks in a root nothing needs any more.
  void CheckOnlyNeededRootsHoldChunks() {
    std::set<std::string> tagged, alarmed;
    for (const catalog::TaggedImage& t : Must(catalog::ListAllTags(*store_)))
      tagged.insert(t.ref.root);
    for (const store::Alarm& a : Must(store::ListAlarms(*store_, ""))) alarmed.insert(a.root);
    for (const store::RootRecord& r : Must(store::ListRoots(*store_))) {
      bool needed = r.state == store::RootState::kActive || r.state == store::RootState::kRetired ||
                    tagged.contains(r.id) || alarmed.contains(r.id) ||
                    (r.state == store::RootState::kExpired && now_ - r.changed < 4);
      if (!needed) {
        EXPECT_TRUE(Must(store_->List(store::RootPrefix(r.id) + "chunks/")).empty())
            << r.id << " (" << store::RootStateName(r.state) << ") still holds chunks";
      }
    }
  }

  std::mt19937_64 rng_;
  const ScratchDir& dir_;
  const Variants& variants_;
  std::unique_ptr<store::ObjectStore> store_;
  std::unique_ptr<keys::KeyService> keys_;
  std::map<std::pair<std::string, std::string>, int> tags_;  // (tenant, tag) -> variant
  std::vector<Reader> readers_;
  std::map<std::string, store::RootState> states_;
  int64_t now_ = 1000;
};

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

TEST(GcModelTest, RandomSequencesKeepEveryTagReadable) {
  ScratchDir dir("lode-gc-model");
  Variants variants(dir);
  int steps = EnvInt("LODE_GC_MODEL_STEPS", 2500);
  std::vector<uint64_t> seeds = {1, 2, 3};
  if (const char* s = std::getenv("LODE_GC_SEED")) seeds = {std::strtoull(s, nullptr, 10)};
  for (uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ScratchDir run("lode-gc-run");
    GcModel model(seed, run, variants);
    int per_seed = steps / static_cast<int>(seeds.size());
    for (int i = 0; i < per_seed && !::testing::Test::HasFailure(); ++i) {
      SCOPED_TRACE("step " + std::to_string(i));
      model.Step();
    }
    model.CheckAll();
    std::string summary;
    for (const auto& [kind, n] : model.counts) summary += kind + " " + std::to_string(n) + ", ";
    std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), summary.c_str());
    if (::testing::Test::HasFailure()) break;
  }
}

// Every tag of tenant t0 points into `root` and exports as its variant.
void ExpectTagsIn(store::ObjectStore& store, keys::KeyService& keys, const Variants& variants,
                  const std::map<std::string, int>& tags, const std::string& root,
                  const std::string& scratch) {
  for (const auto& [tag, v] : tags) {
    store::ImageRef ref = Must(catalog::ResolveRef(store, "t0", tag));
    EXPECT_EQ(ref.root, root) << tag;
    EXPECT_TRUE(Must(ExportBytes(store, keys, "t0", ref, scratch)) == variants.Flattened(v)) << tag;
  }
}

// A migration stopped before its k-th step, for every k, then run again:
// every tag ends up in the new root, readable, and the rerun reuses what
// the stopped run finished (at most one manifest copied twice).
TEST(GcCrashTest, MigrationStoppedAtAnyStepCompletesOnRerun) {
  ScratchDir dir("lode-gc-crash");
  Variants variants(dir);
  for (int crash_at = 1;; ++crash_at) {
    SCOPED_TRACE("stopped before step " + std::to_string(crash_at));
    ScratchDir run("lode-gc-crash-run");
    auto store = Must(store::OpenStore("dir://" + run / "store", std::chrono::milliseconds(0)));
    auto keys = Must(keys::OpenLocalKeyService(run / "keys"));
    ASSERT_TRUE(keys->CreateTenant("t0").ok());
    std::map<std::string, int> tags = {{"a", 0}, {"b", 2}, {"c", 2}, {"d", 5}};
    std::map<int, store::ImageRef> pushed;
    for (const auto& [tag, v] : tags) {
      if (!pushed.contains(v)) {
        push::PushOptions o{.tenant = "t0", .chunk_size = kChunk, .threads = 1};
        o.flatten = Variants::Options();
        pushed[v] = Must(push::Push(variants.Open(v), o, *keys, *store)).ref;
      }
      ASSERT_TRUE(catalog::SetTag(*store, "t0", tag, pushed[v]).ok());
    }
    store::RootRecord target = Must(gc::Rotate(*store, 1, false));
    int steps = 0;
    gc::MigrateOptions stop{.threads = 1, .before_step = [&](const std::string&) {
                              return ++steps == crash_at ? Status::Unavailable("stopped")
                                                         : Status::Ok();
                            }};
    bool stopped = !gc::Migrate(*store, *keys, stop).ok();
    gc::MigrateResult rerun = Must(gc::Migrate(*store, *keys, {.threads = 1}));
    ExpectTagsIn(*store, *keys, variants, tags, target.id, run / "out.img");
    size_t manifests = Must(store->List(store::RootPrefix(target.id) + "manifests/")).size();
    EXPECT_GE(manifests, pushed.size());
    EXPECT_LE(manifests, pushed.size() + 1);
    if (!stopped) {  // the first run had fewer steps: every step was covered
      EXPECT_EQ(rerun.tags_moved, 0u);
      EXPECT_GT(crash_at, 10);
      std::printf("stopped before each of %d steps\n", crash_at - 1);
      break;
    }
  }
}

// Migrations running at once, beside a push and readers: when everything is
// done and one last migration has run, every tag is in the active root and
// exports its variant; no reader ever failed.
TEST(GcConcurrencyTest, MigrationsRunBesidePushesReadsAndEachOther) {
  ScratchDir dir("lode-gc-concurrent");
  Variants variants(dir);
  auto store = Must(store::OpenStore("dir://" + dir / "store", std::chrono::milliseconds(0)));
  auto keys = Must(keys::OpenLocalKeyService(dir / "keys"));
  ASSERT_TRUE(keys->CreateTenant("t0").ok());
  auto push = [&](int v, const std::string& tag) {
    push::PushOptions o{.tenant = "t0", .chunk_size = kChunk, .threads = 1};
    o.flatten = Variants::Options();
    store::ImageRef ref = Must(push::Push(variants.Open(v), o, *keys, *store)).ref;
    EXPECT_TRUE(catalog::SetTag(*store, "t0", tag, ref).ok());
  };
  std::map<std::string, int> tags;
  for (int v = 0; v < kVariants; ++v) {
    push(v, "old" + std::to_string(v));
    tags["old" + std::to_string(v)] = v;
  }
  store::RootRecord target = Must(gc::Rotate(*store, 1, false));
  std::atomic<bool> done = false;
  std::atomic<int> read_failures = 0, reads = 0;
  std::thread reader([&] {
    for (int i = 0; !done; i = (i + 1) % kVariants) {
      std::string tag = "old" + std::to_string(i);
      Result<store::ImageRef> ref = catalog::ResolveRef(*store, "t0", tag);
      Result<std::vector<uint8_t>> bytes =
          ref.ok() ? ExportBytes(*store, *keys, "t0", *ref, dir / "read.img") : ref.status();
      bool ok = bytes.ok() && *bytes == variants.Flattened(i);
      read_failures += !ok;
      ++reads;
    }
  });
  std::vector<std::thread> migrations;
  for (int i = 0; i < 2; ++i) {
    migrations.emplace_back([&] { EXPECT_TRUE(gc::Migrate(*store, *keys, {.threads = 2}).ok()); });
  }
  for (int v = 0; v < kVariants; ++v) push(v, "new" + std::to_string(v));
  for (std::thread& t : migrations) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(read_failures, 0) << "of " << reads << " reads";
  std::printf("%d reads during the migrations\n", reads.load());
  EXPECT_TRUE(gc::Migrate(*store, *keys, {}).ok());
  for (int v = 0; v < kVariants; ++v) tags["new" + std::to_string(v)] = v;
  ExpectTagsIn(*store, *keys, variants, tags, target.id, dir / "out.img");
  EXPECT_EQ(Must(gc::Expire(*store, 1 + gc::kMinRetiredSeconds)).expired,
            std::vector<std::string>{"root-0"});
}

// Readers cache root states (kRootStateTtl) and expiry waits longer than
// that after retirement: a reader that saw the root active or retired
// still raises an alarm on its first read after the expiry.
TEST(GcAlarmTest, ReadersCachingRootStatesStillAlarmAfterExpiry) {
  ScratchDir dir("lode-gc-alarm");
  Variants variants(dir);
  std::string url = "dir://" + dir / "store";
  auto reader = Must(store::OpenStore(url));  // caches as every lode process does
  auto admin = Must(store::OpenStore(url, std::chrono::milliseconds(0)));
  auto keys = Must(keys::OpenLocalKeyService(dir / "keys"));
  ASSERT_TRUE(keys->CreateTenant("t0").ok());
  push::PushOptions o{.tenant = "t0", .chunk_size = kChunk, .threads = 1};
  o.flatten = Variants::Options();
  store::ImageRef ref = Must(push::Push(variants.Open(1), o, *keys, *admin)).ref;
  ASSERT_TRUE(catalog::SetTag(*admin, "t0", "app", ref).ok());
  std::string manifest = store::ManifestKey(ref.root, ref.manifest_id);
  ASSERT_TRUE(reader->Get(manifest).ok());  // root-0 cached as active
  int64_t retired_at = store::UnixNow();
  ASSERT_TRUE(gc::Rotate(*admin, retired_at).ok());
  ASSERT_TRUE(gc::Migrate(*admin, *keys, {}).ok());
  EXPECT_EQ(Must(gc::Expire(*admin, retired_at)).too_recent, std::vector<std::string>{"root-0"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000 * gc::kMinRetiredSeconds + 100));
  ASSERT_TRUE(reader->Get(manifest).ok());  // retired: no alarm, nothing cached
  EXPECT_TRUE(Must(store::ListAlarms(*admin, "root-0")).empty());
  // The wall clock may lag the sleep's steady clock: expire as of the sleep.
  int64_t expired_at = retired_at + gc::kMinRetiredSeconds;
  EXPECT_EQ(Must(gc::Expire(*admin, expired_at)).expired, std::vector<std::string>{"root-0"});
  ASSERT_TRUE(reader->Get(manifest).ok());                          // served...
  EXPECT_EQ(Must(store::ListAlarms(*admin, "root-0")).size(), 1u);  // ...and reported
  gc::SweepResult sweep = Must(gc::Sweep(*admin, {.older_than = 0, .now = expired_at}));
  EXPECT_TRUE(sweep.deleted.empty());
  EXPECT_TRUE(reader->Get(manifest).ok());
}

}  // namespace
}  // namespace lode::testing
