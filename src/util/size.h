// Byte sizes as people write them: "4096", "512KiB", "64M", "1.5GiB".
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace lode {

// K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024; KB/MB/GB/TB of 1000.
Result<uint64_t> ParseSize(const std::string& text);
// "1.5 GiB" style, for output.
std::string FormatSize(uint64_t bytes);

}  // namespace lode
