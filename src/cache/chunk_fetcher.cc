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

ChunkFetcher::ChunkFetcher(const FetcherOptions& options, store::ObjectStore& origin)
    : l1_(options.l1),
      l2_(options.l2),
      origin_(origin),
      admission_(options.max_origin_fetches, options.admission_timeout) {}

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
  promise.set_value(r);
  // L1 is filled after the readers waiting for this chunk have it: a disk
  // write is not on their path. Readers arriving meanwhile still join this
  // fetch, which is done, instead of missing L1.
  // A full disk only costs a refetch later.
  if (r.ok() && l1_ != nullptr && r->tier != Tier::kL1) (void)l1_->Put(name, *r->bytes);
  lock.lock();
  in_flight_.erase(name);
  return r;
}

Result<Fetched> ChunkFetcher::FetchOnce(const std::string& root, const std::string& name) {
  std::optional<Fetched> found = FromL1(name);
  if (!found) found = FromL2(name);
  if (!found) {
    LODE_ASSIGN_OR_RETURN(Fetched origin, FromOrigin(root, name));
    if (l2_ != nullptr) l2_->Fill(name, origin.bytes);
    found = std::move(origin);
  }
  return *found;
}

std::optional<Fetched> ChunkFetcher::FromL1(const std::string& name) {
  if (l1_ == nullptr) return std::nullopt;
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
  return std::nullopt;
}

std::optional<Fetched> ChunkFetcher::FromL2(const std::string& name) {
  if (l2_ == nullptr) return std::nullopt;
  Clock::time_point start = Clock::now();
  Result<std::vector<uint8_t>> got = l2_->Get(name);
  if (got.ok() && MatchesName(*got, name)) {
    l2_metrics_.hits++;
    l2_metrics_.bytes += got->size();
    l2_metrics_.latency.Record(Clock::now() - start);
    return Fetched{std::make_shared<const std::vector<uint8_t>>(std::move(*got)), Tier::kL2};
  }
  if (got.ok()) l2_metrics_.errors++;  // decoded, yet not the chunk: never served
  l2_metrics_.misses++;
  return std::nullopt;
}

Result<Fetched> ChunkFetcher::FromOrigin(const std::string& root, const std::string& name) {
  LODE_ASSIGN_OR_RETURN(Admission::Ticket ticket, admission_.Acquire("chunk " + name));
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
  std::vector<TierSnapshot> out = {l1_metrics_.Snapshot("l1")};
  if (l2_ != nullptr) out.push_back(l2_metrics_.Snapshot("l2"));
  out.push_back(origin_metrics_.Snapshot("origin"));
  return out;
}

}  // namespace lode::cache
