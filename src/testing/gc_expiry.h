// Waiting for gc's expiry from tests.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace lode::testing {

// `gc expire` holds a retired root back for gc::kMinRetiredSeconds (readers
// cache root states); how much of that has passed when a test gets there
// depends on how fast the machine ran the steps before. Calls `expire`
// (returning `gc expire --json`'s output) until it reports `root` expired,
// for up to ten seconds. Returns "" then, else what it reported.
std::string ExpireWhenOldEnough(const std::function<nlohmann::json()>& expire,
                                const std::string& root);

}  // namespace lode::testing
