// Base64, standard alphabet (RFC 4648), on OpenSSL.
#pragma once

#include <optional>
#include <string>

namespace lode {

std::string Base64Encode(const std::string& data);
// Takes padding or none; nullopt on bad input.
std::optional<std::string> Base64Decode(const std::string& text);

}  // namespace lode
