// Whole files for tests: read ("" when missing) and written (replaced).
#pragma once

#include <string>

namespace lode::testing {

std::string ReadAll(const std::string& path);
void WriteAll(const std::string& path, const std::string& data);

}  // namespace lode::testing
