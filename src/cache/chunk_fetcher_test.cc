#include "cache/chunk_fetcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "store/layout.h"
#include "testing/scratch_dir.h"
#include "util/sha256.h"

namespace lode::cache {
namespace {

using testing::ScratchDir;

// A real dir:// store that counts chunk reads and can be slowed down.
class CountingStore : public store::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::vector<uint8_t>> Get(const std::string& k) override {
    gets++;
    std::this_thread::sleep_for(delay);
    return ForwardingStore::Get(k);
  }
  std::atomic<int> gets = 0;
  std::chrono::milliseconds delay{0};
};

class ChunkFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<CountingStore>(*store::OpenStore("dir://" + dir_ / "store"));
    l1_ = *DiskCache::Open(dir_ / "l1", 1 << 20);
    chunk_.assign(5000, 42);
    name_ = ToHex(Sha256::Of(chunk_));
    ASSERT_TRUE(store_->Put(store::ChunkKey("root-0", name_), chunk_).ok());
  }
  ScratchDir dir_{"lode-fetch"};
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<DiskCache> l1_;
  std::vector<uint8_t> chunk_;
  std::string name_;
};

TEST_F(ChunkFetcherTest, OriginFillsL1AndTheNextReadHitsIt) {
  ChunkFetcher fetcher({.l1 = l1_.get()}, *store_);
  auto first = fetcher.Fetch("root-0", name_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->tier, Tier::kOrigin);
  EXPECT_EQ(*first->bytes, chunk_);
  auto second = fetcher.Fetch("root-0", name_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->tier, Tier::kL1);
  EXPECT_EQ(store_->gets.load(), 1);
  auto m = fetcher.Metrics();
  EXPECT_EQ(m[0].hits, 1u);
  EXPECT_EQ(m[0].misses, 1u);
  EXPECT_EQ(m[1].bytes, 5000u);
}

TEST_F(ChunkFetcherTest, CorruptL1CopyIsDroppedAndFetchedAgain) {
  ASSERT_TRUE(l1_->Put(name_, std::vector<uint8_t>(5000, 43)).ok());
  ChunkFetcher fetcher({.l1 = l1_.get()}, *store_);
  auto r = fetcher.Fetch("root-0", name_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->bytes, chunk_);
  EXPECT_EQ(r->tier, Tier::kOrigin);
  EXPECT_EQ(fetcher.Metrics()[0].errors, 1u);
  EXPECT_EQ(**l1_->Get(name_), chunk_);  // replaced by the good copy
}

TEST_F(ChunkFetcherTest, CorruptOriginCopyIsAnErrorAndNotCached) {
  std::vector<uint8_t> bad(chunk_);
  bad[10] ^= 1;
  ASSERT_TRUE(store_->Put(store::ChunkKey("root-0", name_), bad).ok());
  ChunkFetcher fetcher({.l1 = l1_.get()}, *store_);
  auto r = fetcher.Fetch("root-0", name_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(l1_->Get(name_)->has_value());
  auto missing = fetcher.Fetch("root-0", std::string(64, 'a'));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ChunkFetcherTest, ConcurrentMissesShareOneFetch) {
  store_->delay = std::chrono::milliseconds(100);
  ChunkFetcher fetcher({}, *store_);
  std::vector<std::thread> readers;
  std::atomic<int> ok = 0, shared = 0;
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      auto r = fetcher.Fetch("root-0", name_);
      ok += r.ok() && *r->bytes == chunk_;
      shared += r.ok() && r->shared;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(store_->gets.load(), 1);
  EXPECT_EQ(shared.load(), 7);
}

TEST_F(ChunkFetcherTest, AdmissionBoundsOriginFetchesAndRejectsPastTheDeadline) {
  std::vector<std::string> names;
  for (uint8_t i = 0; i < 8; ++i) {
    std::vector<uint8_t> c(1000, i);
    names.push_back(ToHex(Sha256::Of(c)));
    ASSERT_TRUE(store_->Put(store::ChunkKey("root-0", names.back()), c).ok());
  }
  store_->delay = std::chrono::milliseconds(200);
  ChunkFetcher fetcher(
      {.max_origin_fetches = 2, .admission_timeout = std::chrono::milliseconds(300)}, *store_);
  std::atomic<int> ok = 0, rejected = 0;
  std::vector<std::thread> readers;
  auto start = std::chrono::steady_clock::now();
  for (const std::string& name : names) {
    readers.emplace_back([&, name] {
      auto r = fetcher.Fetch("root-0", name);
      if (r.ok()) ++ok;
      if (!r.ok() && r.status().code() == StatusCode::kRejected &&
          r.status().message().find("origin busy") != std::string::npos) {
        ++rejected;
      }
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_LE(fetcher.admission().counters().peak_in_flight.load(), 2u);
  // Two slots, 200 ms per fetch, 300 ms of patience: 4 get through, 4 give up.
  EXPECT_EQ(ok.load() + rejected.load(), 8);
  EXPECT_GE(rejected.load(), 2);
  EXPECT_EQ(fetcher.admission().counters().rejected.load(), static_cast<uint64_t>(rejected.load()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace lode::cache
