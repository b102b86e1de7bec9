// Small text helpers shared by the parsers of peers' answers and config
// files (HTTP headers, credential files, S3 credentials).
#pragma once

#include <string>

namespace lode {

// ASCII lower case (header names, auth schemes, URL origins).
std::string AsciiLower(std::string s);
// Without leading and trailing spaces, tabs, CR and LF.
std::string Trim(const std::string& s);
// The environment variable's value, "" when unset.
std::string GetEnv(const char* name);

}  // namespace lode
