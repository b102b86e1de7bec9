// The L2 tier: a fleet of memcached servers shared by the workers of a zone.
// Each chunk is erasure-coded into k + m stripes (erasure.h) stored on k + m
// distinct servers chosen by rendezvous hashing of the chunk name, so
// adding or removing a server moves only the stripes it must. A read asks
// all k + m servers at once and decodes from the first k good stripes, so a
// slow or dead server neither misses nor stalls a read; it gives up at a
// deadline. Every server has one connection owned by one worker thread.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cache/erasure.h"
#include "cache/memory_cache.h"
#include "cache/metrics.h"
#include "util/status.h"

namespace lode::cache {

struct L2Options {
  std::vector<std::string> servers;  // "host:port"
  ErasureCode code;
  std::chrono::milliseconds deadline{250};
};

// Parses "memcached://HOST:PORT,HOST:PORT,..."; at least k + m servers.
Result<std::vector<std::string>> ParseMemcachedUrl(const std::string& url);
// Parses "K+M", e.g. "4+1".
Result<ErasureCode> ParseErasureCode(const std::string& text);

struct L2Counters {
  std::atomic<uint64_t> stripes_late = 0;     // arrived after the chunk was decoded or gave up
  std::atomic<uint64_t> stripes_missing = 0;  // not found, failed, or invalid
  std::atomic<uint64_t> fills = 0;
  std::atomic<uint64_t> stripes_stored = 0;
  std::atomic<uint64_t> fills_dropped = 0;  // a server's queue was full
};

class MemcachedL2 {
 public:
  static Result<std::unique_ptr<MemcachedL2>> Open(const L2Options& options);
  ~MemcachedL2();

  // The chunk, decoded from k good stripes; NotFound when fewer arrive by
  // the deadline. The caller verifies the chunk against its name.
  Result<std::vector<uint8_t>> Get(const std::string& name);
  // Stores the chunk's stripes in the background.
  void Fill(const std::string& name, SharedBytes chunk);

  // The servers holding stripes 0..k+m-1 of `name`, best first.
  std::vector<size_t> Placement(const std::string& name) const;
  const L2Counters& counters() const { return counters_; }
  const L2Options& options() const { return options_; }

  class Server;

 private:
  explicit MemcachedL2(L2Options options);
  // Stores stripes `indices` of the chunk in the background.
  void Store(const std::string& name, SharedBytes chunk, const std::vector<int>& indices);
  L2Options options_;
  L2Counters counters_;  // before servers_: their threads count until they stop
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace lode::cache
