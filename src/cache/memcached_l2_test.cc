// The L2 tier against real memcached servers started on 127.0.0.1.
#include "cache/memcached_l2.h"

#include <gtest/gtest.h>
#include <libmemcached/memcached.h>

#include <chrono>
#include <random>
#include <thread>

#include "testing/memcached_fleet.h"
#include "util/sha256.h"

namespace lode::cache {
namespace {

using Clock = std::chrono::steady_clock;
using testing::MemcachedFleet;

SharedBytes RandomChunk(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto out = std::make_shared<std::vector<uint8_t>>(n);
  for (auto& b : *out) b = static_cast<uint8_t>(rng());
  return out;
}

std::string NameOf(const std::vector<uint8_t>& b) { return ToHex(Sha256::Of(b)); }

std::unique_ptr<MemcachedL2> OpenL2(
    const MemcachedFleet& fleet, ErasureCode code,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(250)) {
  L2Options o;
  o.servers = *ParseMemcachedUrl(fleet.Url());
  o.code = code;
  o.deadline = deadline;
  return *MemcachedL2::Open(o);
}

// Fills are asynchronous: waits until the chunk reads back.
bool FillAndWait(MemcachedL2& l2, const std::string& name, SharedBytes chunk) {
  l2.Fill(name, chunk);
  for (int i = 0; i < 200; ++i) {
    auto got = l2.Get(name);
    if (got.ok() && *got == *chunk) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class MemcachedL2Test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fleet_.ok()) << "memcached did not start"; }
  MemcachedFleet fleet_{6};
};

TEST_F(MemcachedL2Test, FilledChunksReadBackFromKOfKPlusMServers) {
  auto l2 = OpenL2(fleet_, {4, 1});
  SharedBytes chunk = RandomChunk(512 << 10, 1);
  std::string name = NameOf(*chunk);
  EXPECT_EQ(l2->Get(name).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(FillAndWait(*l2, name, chunk));
  std::vector<size_t> placement = l2->Placement(name);
  EXPECT_EQ(std::set<size_t>(placement.begin(), placement.end()).size(), 5u);  // distinct servers
}

TEST_F(MemcachedL2Test, AKilledServerChangesNothing) {
  auto l2 = OpenL2(fleet_, {4, 1});
  SharedBytes chunk = RandomChunk(300000, 2);
  std::string name = NameOf(*chunk);
  ASSERT_TRUE(FillAndWait(*l2, name, chunk));
  fleet_.Kill(static_cast<int>(l2->Placement(name)[1]));
  auto got = l2->Get(name);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, *chunk);
}

TEST_F(MemcachedL2Test, AFrozenServerDoesNotStallReadsButWithoutParityItDoes) {
  auto l2 = OpenL2(fleet_, {4, 1}, std::chrono::milliseconds(300));
  auto no_parity = OpenL2(fleet_, {4, 0}, std::chrono::milliseconds(300));
  SharedBytes chunk = RandomChunk(512 << 10, 3);
  std::string name = NameOf(*chunk);
  ASSERT_TRUE(FillAndWait(*l2, name, chunk));
  ASSERT_TRUE(FillAndWait(*no_parity, name, chunk));
  int frozen = static_cast<int>(no_parity->Placement(name)[0]);
  // Rendezvous ranks servers the same for both codes: the frozen server
  // holds a stripe of each.
  ASSERT_EQ(l2->Placement(name)[0], no_parity->Placement(name)[0]);
  fleet_.Freeze(frozen);
  Clock::time_point start = Clock::now();
  auto got = l2->Get(name);
  auto took = Clock::now() - start;
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, *chunk);
  EXPECT_LT(took, std::chrono::milliseconds(250));
  start = Clock::now();
  EXPECT_FALSE(no_parity->Get(name).ok());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));  // waited for the deadline
  fleet_.Thaw(frozen);
  EXPECT_GT(l2->counters().stripes_late.load() + l2->counters().stripes_missing.load(), 0u);
}

TEST_F(MemcachedL2Test, AServerRestartedEmptyIsRefilledByReads) {
  auto l2 = OpenL2(fleet_, {4, 1});
  SharedBytes chunk = RandomChunk(200000, 4);
  std::string name = NameOf(*chunk);
  ASSERT_TRUE(FillAndWait(*l2, name, chunk));
  int restarted = static_cast<int>(l2->Placement(name)[0]);
  ASSERT_TRUE(fleet_.Restart(restarted));
  // A read decodes from the other four and refills the missing stripe in
  // the background; a refill is best effort (the first write to a server
  // that restarted can fail while the client reconnects), and the next
  // read that misses the stripe refills it again.
  uint64_t stored = l2->counters().stripes_stored.load();
  for (int i = 0; i < 500 && l2->counters().stripes_stored.load() == stored; ++i) {
    ASSERT_TRUE(l2->Get(name).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(l2->counters().stripes_stored.load(), stored);
  // Now any other single server can go: the refilled stripe is back.
  fleet_.Kill(static_cast<int>(l2->Placement(name)[2]));
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    ok = l2->Get(name).ok();
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ok);
}

TEST_F(MemcachedL2Test, ABadStripeIsIgnored) {
  auto l2 = OpenL2(fleet_, {4, 2});
  SharedBytes chunk = RandomChunk(100000, 5);
  std::string name = NameOf(*chunk);
  ASSERT_TRUE(FillAndWait(*l2, name, chunk));
  // Overwrite stripes 0 and 3 with garbage, straight into their servers.
  for (int index : {0, 3}) {
    std::string addr =
        fleet_.Address(static_cast<int>(l2->Placement(name)[static_cast<size_t>(index)]));
    memcached_st* mc = memcached_create(nullptr);
    memcached_server_add(mc, "127.0.0.1",
                         static_cast<in_port_t>(std::stoi(addr.substr(addr.find(':') + 1))));
    std::string key = "lode:4+2:" + name + ":" + std::to_string(index);
    std::string junk(30000, 'j');
    ASSERT_EQ(memcached_set(mc, key.data(), key.size(), junk.data(), junk.size(), 0, 0),
              MEMCACHED_SUCCESS);
    memcached_free(mc);
  }
  auto got = l2->Get(name);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, *chunk);
}

TEST(RendezvousTest, AddingAServerMovesStripesOnlyToIt) {
  L2Options five, six;
  for (int i = 0; i < 6; ++i) {
    (i < 5 ? five : six).servers.push_back("10.0.0." + std::to_string(i) + ":11211");
  }
  six.servers.insert(six.servers.begin(), five.servers.begin(), five.servers.end());
  auto a = *MemcachedL2::Open(five);
  auto b = *MemcachedL2::Open(six);
  int moved = 0, total = 0;
  for (int c = 0; c < 1000; ++c) {
    std::string name = ToHex(Sha256::Of(std::to_string(c)));
    std::vector<size_t> pa = a->Placement(name), pb = b->Placement(name);
    std::set<size_t> before(pa.begin(), pa.end()), after(pb.begin(), pb.end());
    for (size_t s : after) {
      ++total;
      if (!before.count(s)) {
        ++moved;
        EXPECT_EQ(s, 5u);  // only the new server gains stripes
      }
    }
  }
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, total / 3);
}

TEST(L2UrlTest, ParsesServersAndCodes) {
  EXPECT_EQ(ParseMemcachedUrl("memcached://a:1,b:2")->size(), 2u);
  EXPECT_FALSE(ParseMemcachedUrl("memcached://a").ok());
  EXPECT_FALSE(ParseMemcachedUrl("redis://a:1").ok());
  EXPECT_EQ(ParseErasureCode("4+2")->m, 2);
  EXPECT_FALSE(ParseErasureCode("4").ok());
  L2Options too_few;
  too_few.servers = {"a:1", "b:2"};
  EXPECT_FALSE(MemcachedL2::Open(too_few).ok());
}

}  // namespace
}  // namespace lode::cache
