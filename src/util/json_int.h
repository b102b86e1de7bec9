// Integers from JSON written by others. nlohmann's get<T>() converts a
// floating-point number to any integer type, which is undefined behavior
// when it does not fit ({"size": 1e33}); this accepts only integers that fit
// T and otherwise throws nlohmann's type_error, as a wrong type would.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace lode {

template <typename T>
T IntegerOf(const nlohmann::json& j) {
  using Limits = std::numeric_limits<T>;
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(Limits::max())) return static_cast<T>(v);
  } else if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v >= 0 ? static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max())
               : Limits::is_signed && v >= static_cast<int64_t>(Limits::min())) {
      return static_cast<T>(v);
    }
  }
  throw nlohmann::json::type_error::create(
      302, "expected an integer in range, not " + j.dump().substr(0, 40), nullptr);
}

}  // namespace lode
