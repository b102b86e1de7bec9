#include "cache/admission.h"

namespace lode::cache {

Result<Admission::Ticket> Admission::Acquire(const std::string& what) {
  std::unique_lock lock(mu_);
  if (in_flight_ >= limit_) {
    counters_.waited++;
    if (!cv_.wait_for(lock, timeout_, [&] { return in_flight_ < limit_; })) {
      counters_.rejected++;
      return Status::Rejected("origin busy: " + std::to_string(limit_) + " fetches in flight for " +
                              std::to_string(timeout_.count()) + " ms; gave up on " + what);
    }
  }
  ++in_flight_;
  counters_.admitted++;
  if (static_cast<uint64_t>(in_flight_) > counters_.peak_in_flight) {
    counters_.peak_in_flight = static_cast<uint64_t>(in_flight_);
  }
  return Ticket(this);
}

void Admission::Release() {
  std::lock_guard lock(mu_);
  --in_flight_;
  cv_.notify_one();
}

int Admission::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

}  // namespace lode::cache
