// Small text helpers shared by the parsers of peers' answers and config
// files (HTTP headers, credential files, S3 credentials).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lode {

// ASCII lower case (header names, auth schemes, URL origins).
std::string AsciiLower(std::string s);
// Without leading and trailing spaces, tabs, CR and LF.
std::string Trim(const std::string& s);
// `s` with control characters (newlines, escapes) shown as \xNN: text
// from an image or a peer printed inside a one-line message.
std::string EscapeControl(const std::string& s);

// At most `max` bytes of `s` (then "..."), control characters escaped:
// a name or a peer's text quoted in a message.
std::string Excerpt(const std::string& s, size_t max = 200);

// Lower-case hex to bytes (the reverse of ToHex in util/sha256.h): false
// unless `hex` is exactly 2 * out.size() lower-case hex digits.
bool FromHex(std::string_view hex, std::span<uint8_t> out);

// The pieces of `s` between `separator`s (empty ones too).
std::vector<std::string> Split(const std::string& s, char separator);

// The environment variable's value, "" when unset.
std::string GetEnv(const char* name);

}  // namespace lode
