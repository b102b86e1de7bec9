#include "util/sha256.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace lode {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(ToHex(Sha256::Of(std::string_view(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256::Of(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShotAndResets) {
  Sha256 h;
  h.Update(std::string_view("a"));
  h.Update(std::string_view("bc"));
  EXPECT_EQ(h.Finish(), Sha256::Of(std::string_view("abc")));
  EXPECT_EQ(h.Finish(), Sha256::Of(std::string_view("")));
}

TEST(Sha256Test, HmacKnownVector) {
  // RFC 4231, test case 2.
  std::string_view key = "Jefe", data = "what do ya want for nothing?";
  EXPECT_EQ(
      ToHex(HmacSha256(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                       std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()))),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// One-shot hashes share a context per thread: threads hashing different
// messages at once each get their own message's digest.
TEST(Sha256Test, OneShotHashesOnManyThreadsAtOnce) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      std::string message(static_cast<size_t>(t) * 100, 'x');
      Sha256 reference;
      reference.Update(message);
      Sha256Digest want = reference.Finish();
      for (int i = 0; i < 2000; ++i) wrong += Sha256::Of(message) != want;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace lode
