#include "testing/gc_expiry.h"

#include <chrono>
#include <thread>

namespace lode::testing {

std::string ExpireWhenOldEnough(const std::function<nlohmann::json()>& expire,
                                const std::string& root) {
  const nlohmann::json only_root = nlohmann::json::array({root});
  nlohmann::json report;
  for (int attempt = 0; attempt < 20; ++attempt) {
    report = expire();
    if (report.value("expired", nlohmann::json()) == only_root) return "";
    if (report.value("too_recent", nlohmann::json()) != only_root) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return "gc expire did not expire " + root + ": " + report.dump();
}

}  // namespace lode::testing
