#include "cache/chunk_fetcher.h"

#include <chrono>

#include "store/layout.h"
#include "util/sha256.h"

namespace lode::cache {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

bool MatchesName(std::span<const uint8_t> bytes, const std::string& name) {
  return ToHex(Sha256::Of(bytes)) == name;
}

ChunkFetcher::ChunkFetcher(DiskCache* l1, store::ObjectStore& origin) : l1_(l1), origin_(origin) {}

Result<Fetched> ChunkFetcher::Fetch(const std::string& root, const std::string& name) {
  std::unique_lock lock(mu_);
  if (auto it = in_flight_.find(name); it != in_flight_.end()) {
    std::shared_future<Result<Fetched>> flight = it->second;
    lock.unlock();
    Result<Fetched> r = flight.get();
    if (r.ok()) r->shared = true;
    return r;
  }
  std::promise<Result<Fetched>> promise;
  in_flight_.emplace(name, promise.get_future().share());
  lock.unlock();
  Result<Fetched> r = FetchOnce(root, name);
  lock.lock();
  in_flight_.erase(name);
  lock.unlock();
  promise.set_value(r);
  return r;
}

Result<Fetched> ChunkFetcher::FetchOnce(const std::string& root, const std::string& name) {
  if (l1_ != nullptr) {
    Clock::time_point start = Clock::now();
    Result<std::optional<std::vector<uint8_t>>> cached = l1_->Get(name);
    if (cached.ok() && cached->has_value() && MatchesName(**cached, name)) {
      l1_metrics_.hits++;
      l1_metrics_.bytes += (*cached)->size();
      l1_metrics_.latency.Record(Clock::now() - start);
      return Fetched{std::make_shared<const std::vector<uint8_t>>(std::move(**cached)), Tier::kL1};
    }
    if (!cached.ok() || cached->has_value()) {
      l1_metrics_.errors++;  // unreadable or corrupt: never served
      l1_->Remove(name);
    }
    l1_metrics_.misses++;
  }
  LODE_ASSIGN_OR_RETURN(Fetched fetched, FromOrigin(root, name));
  if (l1_ != nullptr) (void)l1_->Put(name, *fetched.bytes);  // a full disk only costs a refetch
  return fetched;
}

Result<Fetched> ChunkFetcher::FromOrigin(const std::string& root, const std::string& name) {
  Clock::time_point start = Clock::now();
  Result<std::vector<uint8_t>> bytes = origin_.Get(store::ChunkKey(root, name));
  if (!bytes.ok()) {
    origin_metrics_.errors++;
    return bytes.status().WithContext("chunk " + name);
  }
  if (!MatchesName(*bytes, name)) {
    origin_metrics_.errors++;
    return Status::Corruption("chunk " + name + " in " + origin_.Describe() +
                              " does not match its name");
  }
  origin_metrics_.hits++;
  origin_metrics_.bytes += bytes->size();
  origin_metrics_.latency.Record(Clock::now() - start);
  return Fetched{std::make_shared<const std::vector<uint8_t>>(std::move(*bytes)), Tier::kOrigin};
}

std::vector<TierSnapshot> ChunkFetcher::Metrics() const {
  return {l1_metrics_.Snapshot("l1"), origin_metrics_.Snapshot("origin")};
}

}  // namespace lode::cache
