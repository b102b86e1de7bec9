// Admission control for origin fetches: at most `limit` run at once, so an
// emptied cache cannot flood the origin. Excess requests wait up to a
// deadline and are then rejected with a clear, counted error. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "util/status.h"

namespace lode::cache {

struct AdmissionCounters {
  std::atomic<uint64_t> admitted = 0;
  std::atomic<uint64_t> waited = 0;    // had to queue first
  std::atomic<uint64_t> rejected = 0;  // gave up at the deadline
  std::atomic<uint64_t> peak_in_flight = 0;
};

class Admission {
 public:
  Admission(int limit, std::chrono::milliseconds timeout) : limit_(limit), timeout_(timeout) {}

  // Holds one of the `limit` slots while alive.
  class Ticket {
   public:
    explicit Ticket(Admission* a) : a_(a) {}
    Ticket(Ticket&& other) noexcept : a_(other.a_) { other.a_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (a_) a_->Release();
    }

   private:
    Admission* a_;
  };

  // A slot, waiting up to the timeout; Rejected when none frees up in time.
  Result<Ticket> Acquire(const std::string& what);
  const AdmissionCounters& counters() const { return counters_; }
  int in_flight() const;
  int limit() const { return limit_; }

 private:
  void Release();

  const int limit_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  AdmissionCounters counters_;
};

}  // namespace lode::cache
